"""Scores from the real CT lesion model, and simulations stored as runs (in-process)."""

from __future__ import annotations

import numpy as np
import pytest

from reading_room import selectors, services
from reading_room.models import CaseScore, CohortScoreSet, SimulationRun
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
    assert first.results["policies"]["fifo"] == second.results["policies"]["fifo"]
    assert first.results["flags"]["flags"] >= second.results["flags"]["flags"]
    assert selectors.simulation_run_previous(run=second) == first


def test_a_screening_run_reports_workload_misses_and_ppv(people, demo_lesson, exercises, ready):
    run = services.simulation_run_create(
        user=people["resident"], exercise=exercises["screening"], lesson=demo_lesson, threshold=0.2
    )
    outcome, human = run.results["outcome"], run.results["human_alone"]
    assert outcome["cases"] == 20000
    assert outcome["cancers"] == round(0.008 * 20000)
    assert human["cleared"] == 0 and human["sensitivity"] == pytest.approx(0.85)
    assert outcome["cleared"] + outcome["human_reads"] == 20000
    assert outcome["cancers_missed"] >= human["cancers_missed"]
    curve = run.results["ppv_curve"]
    assert curve["pathway"] == sorted(curve["pathway"])  # PPV rises with prevalence


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
