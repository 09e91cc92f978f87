"""Lab run services: validation, limits, and what a run stores (the engine's claim, cancel and
sweeper are covered for every family by tests/runs_tests/test_run_contract.py)."""

import pytest

from labs import services
from labs.models import LabRun, LabRunStatus


@pytest.fixture
def exercise(demo_lesson):
    return demo_lesson.body[1].value["exercise"]


@pytest.mark.django_db
def test_created_run_is_queued_with_validated_parameters(exercise, people):
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity="42.5")
    assert run.status == LabRunStatus.QUEUED
    assert run.parameters["severity"] == 42.5
    assert run.parameters["model_key"] == "ct-tissue"
    assert isinstance(run.parameters["seed"], int)


@pytest.mark.django_db
@pytest.mark.parametrize("severity", ["-1", "301", "lots", None, "nan"])
def test_out_of_range_or_non_numeric_severity_is_refused(exercise, people, severity):
    with pytest.raises(services.LabRunRefused):
        services.lab_run_create(user=people["resident"], exercise=exercise, severity=severity)
    assert not LabRun.objects.exists()


def offer(key, low=None, high=None, default=None):
    return {
        "type": "perturbation",
        "value": {
            "perturbation": key,
            "severity_min": low,
            "severity_max": high,
            "severity_default": default,
        },
    }


@pytest.mark.django_db
def test_exercise_can_narrow_the_severity_range(exercise, people):
    exercise.perturbations = [offer("gaussian-noise", 10, 50)]
    exercise.save()
    for severity in (60, 5):
        with pytest.raises(services.LabRunRefused, match="between 10 and 50"):
            services.lab_run_create(user=people["resident"], exercise=exercise, severity=severity)
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    assert run.parameters["severity"] == 10.0


@pytest.mark.django_db
def test_per_user_limit_on_active_runs(exercise, people, settings):
    settings.LAB_RUN_MAX_ACTIVE_PER_USER = 2
    for _ in range(2):
        services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    with pytest.raises(services.LabRunRefused, match="already have 2 runs"):
        services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    # Someone else is not affected by this resident's queue.
    services.lab_run_create(user=people["educator"], exercise=exercise, severity=10)


@pytest.mark.django_db
def test_execute_stores_pictures_and_metrics(exercise, people, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=150)
    services.lab_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    assert run.status == LabRunStatus.SUCCEEDED, run.error_message
    assert run.attempts == 1 and run.progress_percent == 100
    for field in run.output_fields:
        assert getattr(run, field).read(8) == b"\x89PNG\r\n\x1a\n"
    # Noise of 150 HU visibly breaks a classifier that reads HU: pixels change label.
    assert run.metrics["pixels relabelled (%)"] > 5
    assert 130 < run.metrics["RMS pixel change (modality units)"] < 170


@pytest.mark.django_db
def test_incompatible_study_fails_with_a_clear_message(exercise, people):
    exercise.study_key = "mr-small-sample"
    exercise.save()
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    services.lab_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    assert run.status == LabRunStatus.FAILED
    assert "reads CT; this study is MR" in run.error_message
