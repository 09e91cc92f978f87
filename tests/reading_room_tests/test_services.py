"""Scores from the real CT lesion model, and simulations stored as runs (in-process)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from django.apps import apps

from reading_room import selectors, services
from reading_room.models import CaseScore, CohortScoreSet, ReadingRoomExercise, SimulationRun
from runs.models import RunStatus
from tests.reading_room_tests.matrix_support import (
    MATRIX_SCORE_CASES,
    exercises_embed,
    scores_make_ready,
)
from zoo import ct_lesion
from zoo.cohorts import ct_lesions
from zoo.evaluation import auc


@pytest.fixture
def exercises(demo_lesson):
    return exercises_embed(demo_lesson)


@pytest.fixture
def ready(db):
    return scores_make_ready()


def test_scores_are_the_real_models_on_the_first_cases_of_the_held_out_cohort(ready):
    assert ready.status == RunStatus.SUCCEEDED
    stored = selectors.score_set_arrays(score_set=ready)
    assert len(stored.scores) == MATRIX_SCORE_CASES
    # Recompute independently: the same cases, the same network, the same probabilities.
    cohort = ct_lesions.cohort_ct_lesions_build(
        cases=MATRIX_SCORE_CASES, held_out=True, seed=ct_lesion.TEST_SEED
    )
    expected, _masks = ct_lesion.cohort_predict(network=ct_lesion._network_load(), cohort=cohort)
    assert np.allclose(stored.scores, expected, atol=1e-6)
    assert np.array_equal(stored.positive, cohort.has_lesion)
    assert ready.positives == int(cohort.has_lesion.sum())
    assert ready.auc == pytest.approx(auc(scores=expected, positive=cohort.has_lesion))
    # A useful model: lesions score higher than empty patches.
    assert ready.auc > 0.8


def test_the_small_cohort_is_a_true_subset_of_the_full_one():
    small = ct_lesions.cohort_ct_lesions_build(cases=12, held_out=True, seed=ct_lesion.TEST_SEED)
    larger = ct_lesions.cohort_ct_lesions_build(cases=20, held_out=True, seed=ct_lesion.TEST_SEED)
    assert np.array_equal(small.images, larger.images[:12])


def test_asking_again_reuses_the_scores_and_computing_again_does_nothing(ready):
    again = services.score_set_request(source_key="ct-lesion-held-out", cases=MATRIX_SCORE_CASES)
    assert again.pk == ready.pk and again.status == RunStatus.SUCCEEDED
    assert services.score_set_execute(score_set_pk=ready.pk) is None
    assert CaseScore.objects.filter(score_set=ready).count() == MATRIX_SCORE_CASES
    assert CohortScoreSet.objects.count() == 1


def test_a_failed_score_set_is_queued_again_when_asked(db):
    score_set = services.score_set_request(source_key="ct-lesion-held-out", cases=12)
    CohortScoreSet.objects.filter(pk=score_set.pk).update(
        status=RunStatus.FAILED, error_message="worker lost"
    )
    again = services.score_set_request(source_key="ct-lesion-held-out", cases=12)
    assert again.status == RunStatus.QUEUED and again.error_message == ""
    assert services.score_set_execute(score_set_pk=again.pk).status == RunStatus.SUCCEEDED


def test_only_new_or_failed_score_sets_are_enqueued(db, django_capture_on_commit_callbacks):
    """Asking again while the scores wait or compute sends nothing: a lost message or a
    dead worker is the engine's sweeper's to find (tests/runs_tests)."""
    from datetime import timedelta

    from django.utils import timezone

    def request():
        with django_capture_on_commit_callbacks() as callbacks:
            score_set = services.score_set_request(source_key="ct-lesion-held-out", cases=12)
        return score_set, len(callbacks)

    score_set, enqueued = request()
    assert enqueued == 1
    assert request()[1] == 0  # waiting in the queue: nothing more to send
    long_ago = timezone.now() - timedelta(hours=1)
    CohortScoreSet.objects.filter(pk=score_set.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=long_ago
    )
    assert request()[1] == 0  # a silent worker: the sweeper offers it again, not a request
    CohortScoreSet.objects.filter(pk=score_set.pk).update(status=RunStatus.FAILED)
    again, enqueued = request()
    assert enqueued == 1 and (again.status, again.attempts) == (RunStatus.QUEUED, 0)


def test_a_triage_run_compares_every_policy_on_the_same_real_scores(
    people, demo_lesson, exercises, ready
):
    run = services.simulation_run_create(
        user=people["resident"],
        exercise=exercises["triage"],
        lesson=demo_lesson,
        threshold=0.5,
        policy="flag",
    )
    results = run.results
    assert set(results["policies"]) == {"fifo", "flag", "priority"}
    assert results["critical"] == round(0.15 * results["studies"])
    pool = selectors.score_set_arrays(score_set=ready)
    assert set(results["score"]) <= set(pool.scores.tolist())
    # Critical studies carry scores of lesion cases, the others of empty patches.
    positives = set(pool.scores[pool.positive].tolist())
    assert all(
        (score in positives) == critical or score in set(pool.scores[~pool.positive].tolist())
        for score, critical in zip(results["score"], results["is_critical"], strict=True)
    )


def test_a_replay_sees_the_same_day_and_only_the_threshold_changes(
    people, demo_lesson, exercises, ready
):
    common = {"user": people["resident"], "exercise": exercises["triage"], "lesson": demo_lesson}
    first = services.simulation_run_create(**common, threshold=0.3, policy="flag")
    second = services.simulation_run_create(**common, threshold=0.9, policy="flag")
    for key in ("arrival_min", "reading_min", "is_critical", "score"):
        assert first.results[key] == second.results[key]
    fifo_first, fifo_second = first.results["policies"]["fifo"], second.results["policies"]["fifo"]
    assert fifo_first["time_to_report_min"] == fifo_second["time_to_report_min"]
    assert fifo_first["critical"] == fifo_second["critical"]
    assert first.results["flags"]["flags"] >= second.results["flags"]["flags"]
    assert selectors.simulation_run_previous(run=second) == first


def test_a_screening_run_compares_the_pathways_against_double_reading(
    people, demo_lesson, exercises, ready
):
    run = services.simulation_run_create(
        user=people["resident"], exercise=exercises["screening"], lesson=demo_lesson, threshold=0.5
    )
    results = run.results
    pathways = results["pathways"]
    assert set(pathways) == {"single", "double", "masai", "screentrust"}
    assert results["cases"] == 20000
    assert results["cancers"] == round(0.008 * 20000)
    double, single = pathways["double"], pathways["single"]
    # The shipped readers: a European first reader, and double reading with arbitration
    # that recalls 2-4 % (Elhakim et al. 2023's combined reading: 73.9 % / 97.9 %).
    assert single["sensitivity"] == pytest.approx(0.64)
    assert double["sensitivity"] == pytest.approx(0.739, abs=0.005)
    assert double["specificity"] == pytest.approx(0.979, abs=0.001)
    assert 0.02 < double["recall_rate"] < 0.04
    assert double["workload_vs_double"] == 0.0
    # MASAI-style saves reads; every pathway accounts for every cancer.
    assert pathways["masai"]["workload_vs_double"] > 0.3
    for p in pathways.values():
        assert p["cancers_found"] + p["cancers_missed"] == pytest.approx(results["cancers"])
        assert p["interval_per_1000"] == pytest.approx(1000 * p["cancers_missed"] / 20000)
    curve = run.results["ppv_curve"]
    assert curve["double"] == sorted(curve["double"])  # PPV rises with prevalence
    assert run.parameters["error_correlation"] == 0.0


def test_correlated_errors_erode_what_the_ai_reader_adds(people, demo_lesson, exercises, ready):
    common = {"user": people["resident"], "lesson": demo_lesson, "threshold": 0.5}
    independent = services.simulation_run_create(**common, exercise=exercises["screening"])
    exercises["screening"].error_correlation = 0.6
    exercises["screening"].save()
    correlated = services.simulation_run_create(**common, exercise=exercises["screening"])

    def gain(run) -> float:
        pathways = run.results["pathways"]
        return pathways["screentrust"]["sensitivity"] - pathways["single"]["sensitivity"]

    assert gain(correlated) < gain(independent)


def test_triage_in_a_preset_clinic_with_an_aging_rule(people, demo_lesson, exercises, ready):
    run = services.simulation_run_create(
        user=people["resident"],
        exercise=exercises["triage"],
        lesson=demo_lesson,
        threshold=0.35,
        policy="flag",
        clinic="overnight-backlog",
        aging_minutes="90",
    )
    assert run.parameters["clinic"] == "overnight-backlog"
    assert run.parameters["aging_minutes"] == 90.0
    assert (run.parameters["radiologists"], run.results["backlog"]) == (1, 30)
    assert run.results["arrival_min"][:30] == [0.0] * 30
    flag = run.results["policies"]["flag"]
    assert flag["missed_critical"]["count"] == run.results["flags"]["missed_critical"]
    assert flag["promoted"] > 0
    display = selectors.simulation_run_display(run)
    assert display["disclosure"]["borrowed"]
    assert "no pulmonary embolism detector" in display["disclosure"]["text"]
    with pytest.raises(services.SimulationRunRefused, match="clinics"):
        services.simulation_run_create(
            user=people["resident"],
            exercise=exercises["triage"],
            lesson=demo_lesson,
            threshold=0.35,
            clinic="weekend",
        )
    with pytest.raises(services.SimulationRunRefused, match="aging"):
        services.simulation_run_create(
            user=people["resident"],
            exercise=exercises["triage"],
            lesson=demo_lesson,
            threshold=0.35,
            aging_minutes="0",
        )


def test_the_source_is_disclosed_without_borrowing_when_the_finding_is_the_models():
    disclosure = selectors.score_source_disclosure(source_key="ct-lesion-held-out", finding="")
    assert not disclosure["borrowed"]
    assert "CT lesion finder" in disclosure["text"] or "ct lesion finder" in disclosure["text"]
    assert "lung nodule or renal mass" in disclosure["text"]


def test_bad_thresholds_and_missing_scores_are_refused_in_words(db, people, demo_lesson, exercises):
    common = {"user": people["resident"], "exercise": exercises["triage"], "lesson": demo_lesson}
    with pytest.raises(services.SimulationRunRefused, match="not ready"):
        services.simulation_run_create(**common, threshold=0.5, policy="flag")
    scores_make_ready()
    with pytest.raises(services.SimulationRunRefused, match="between 0 and 1"):
        services.simulation_run_create(**common, threshold=1.5, policy="flag")
    with pytest.raises(services.SimulationRunRefused, match="between 0 and 1"):
        services.simulation_run_create(**common, threshold="nan", policy="flag")
    with pytest.raises(services.SimulationRunRefused, match="policies"):
        services.simulation_run_create(**common, threshold=0.5, policy="random")
    assert SimulationRun.objects.count() == 0


def test_the_data_migration_moves_the_shipped_exercises_and_keeps_refined_ones(db):
    """Rows that still hold what the course shipped get the clinic as practised; an exercise
    an educator changed is left alone; no row is deleted."""
    migration = importlib.import_module(
        "reading_room.migrations.0004_shipped_exercises_as_practised"
    )
    triage = ReadingRoomExercise.objects.create(
        title=migration.TRIAGE_TITLE, **migration.TRIAGE_SHIPPED
    )
    screening = ReadingRoomExercise.objects.create(
        title=migration.SCREENING_TITLE, **migration.SCREENING_SHIPPED
    )
    refined = ReadingRoomExercise.objects.create(
        title="My screening", **{**migration.SCREENING_SHIPPED, "human_specificity": 0.95}
    )
    migration.forwards(apps, None)
    triage.refresh_from_db()
    screening.refresh_from_db()
    refined.refresh_from_db()
    assert (triage.backlog_studies, triage.default_threshold, triage.finding) == (
        30,
        0.35,
        "pulmonary embolism",
    )
    assert screening.title == migration.SCREENING_NEW_TITLE
    assert (screening.human_specificity, screening.arbitration_sensitivity) == (0.978, 0.72)
    assert (refined.title, refined.human_specificity, refined.population_size) == (
        "My screening",
        0.95,
        10000,
    )
    assert ReadingRoomExercise.objects.count() == 3
