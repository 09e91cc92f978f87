"""Lab run services: validation, limits, claiming, cancellation, and the stale-run sweeper."""

from datetime import timedelta

import pytest
from django.utils import timezone

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
def test_execute_twice_is_idempotent(exercise, people, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    assert services.lab_run_execute(run_pk=run.pk) is not None
    assert services.lab_run_execute(run_pk=run.pk) is None
    run.refresh_from_db()
    assert run.attempts == 1


@pytest.mark.django_db
def test_a_run_another_worker_is_reporting_on_is_left_alone(exercise, people):
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    claimed = services.lab_run_claim(run_pk=run.pk)
    assert claimed.status == LabRunStatus.RUNNING
    assert services.lab_run_claim(run_pk=run.pk) is None


@pytest.mark.django_db
def test_a_run_whose_worker_went_silent_is_taken_over(exercise, people, settings):
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    first = services.lab_run_claim(run_pk=run.pk)
    LabRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.LAB_RUN_STALE_SECONDS + 1)
    )
    second = services.lab_run_claim(run_pk=run.pk)
    assert second is not None and second.attempts == 2
    # The first worker, if it wakes up, may no longer write.
    with pytest.raises(services.LabRunAbandoned):
        services.lab_run_progress_report(run=first, percent=50, message="late")


@pytest.mark.django_db
def test_cancel_stops_a_running_run_at_its_next_report(exercise, people):
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    claimed = services.lab_run_claim(run_pk=run.pk)
    assert services.lab_run_cancel(run=run)
    with pytest.raises(services.LabRunAbandoned):
        services.lab_run_progress_report(run=claimed, percent=50, message="still going")
    run.refresh_from_db()
    assert run.status == LabRunStatus.CANCELLED
    assert not services.lab_run_cancel(run=run)


@pytest.mark.django_db
def test_runs_that_fail_too_often_are_not_retried_forever(exercise, people, settings):
    settings.LAB_RUN_MAX_ATTEMPTS = 2
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    LabRun.objects.filter(pk=run.pk).update(
        status=LabRunStatus.RUNNING, attempts=2, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert services.lab_run_claim(run_pk=run.pk) is None
    run.refresh_from_db()
    assert run.status == LabRunStatus.FAILED
    assert "stopped 2 times" in run.error_message


@pytest.mark.django_db
def test_incompatible_study_fails_with_a_clear_message(exercise, people):
    exercise.study_key = "mr-small-sample"
    exercise.save()
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    services.lab_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    assert run.status == LabRunStatus.FAILED
    assert "reads CT; this study is MR" in run.error_message


@pytest.mark.django_db
def test_sweeper_requeues_lost_and_silent_runs(exercise, people, settings, eager_tasks, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    long_ago = timezone.now() - timedelta(seconds=settings.LAB_RUN_STALE_SECONDS + 5)
    lost = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    silent = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    fresh = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    LabRun.objects.filter(pk=lost.pk).update(queued_at=long_ago)
    LabRun.objects.filter(pk=silent.pk).update(
        status=LabRunStatus.RUNNING, attempts=1, heartbeat_at=long_ago
    )
    requeued = services.lab_runs_requeue_stale()
    assert sorted(requeued) == sorted([lost.pk, silent.pk])
    # Tasks ran eagerly: both stale runs completed, the fresh one was not touched.
    statuses = dict(LabRun.objects.values_list("pk", "status"))
    assert statuses[lost.pk] == statuses[silent.pk] == LabRunStatus.SUCCEEDED
    assert statuses[fresh.pk] == LabRunStatus.QUEUED
    assert LabRun.objects.get(pk=silent.pk).attempts == 2
