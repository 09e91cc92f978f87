"""A sweep split into parts any worker may score (evaluation.models.CohortChunk).

In-process here (the run's own worker takes every part); the two-worker case runs through
real workers in test_worker.py. 12 cases (settings.EVALUATION_CASE_LIMIT), parts of 5.
"""

from __future__ import annotations

import time

import pytest

from evaluation import services
from evaluation.models import CohortCaseScore, CohortChunk, CohortRun
from runs import announcements
from runs.models import RunStatus
from runs.services import run_execute, run_execute_delivered
from tests.evaluation_tests.support import cohort_exercise_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_parts(settings, tmp_path):
    settings.EVALUATION_CASE_LIMIT = 12
    settings.EVALUATION_CHUNK_CASES = 5
    settings.MEDIA_ROOT = tmp_path / "media"


def _run(people, *, seed: int = 1234) -> CohortRun:
    exercise = cohort_exercise_make(severities="0, 150, 300")
    run = services.cohort_run_create(user=people["resident"], exercise=exercise)
    CohortRun.objects.filter(pk=run.pk).update(seed=seed)
    run.refresh_from_db()
    return run


def _scores(run: CohortRun) -> list[tuple[int, int, float, float | None]]:
    return list(
        CohortCaseScore.objects.filter(run=run)
        .order_by("condition_index", "case_index")
        .values_list("condition_index", "case_index", "score", "dice")
    )


def test_a_sweep_in_parts_scores_every_case_as_the_whole_sweep_would(people, settings):
    settings.EVALUATION_CHUNK_CASES = 1000  # one part per condition
    whole = _run(people)
    services.cohort_run_execute(run_pk=whole.pk)
    settings.EVALUATION_CHUNK_CASES = 5
    parted = _run(people)
    done = services.cohort_run_execute(run_pk=parted.pk)

    assert done.status == RunStatus.SUCCEEDED, done.error_message
    # The unperturbed scores come from the cache the first run filled; the two perturbed
    # conditions are split into cases 0-4, 5-9 and 10-11.
    parts = list(CohortChunk.objects.filter(run=parted))
    assert [(p.condition_index, p.case_start, p.case_stop) for p in parts] == [
        (1, 0, 5),
        (1, 5, 10),
        (1, 10, 12),
        (2, 0, 5),
        (2, 5, 10),
        (2, 10, 12),
    ]
    assert {p.status for p in parts} == {RunStatus.SUCCEEDED}
    assert done.summary["parts"] == {"count": 6, "workers": 1}
    assert len(_scores(parted)) == 36
    assert _scores(parted) == _scores(CohortRun.objects.get(pk=whole.pk))


def test_a_resumed_run_keeps_the_parts_already_scored(people):
    run = _run(people)
    first_part = services.cohort_chunks_plan(run=run, condition_indexes=[0, 1, 2])[0]
    # A worker scored one part before the run's own worker died (the part is durable).
    scored = run_execute(model_label="evaluation.CohortChunk", run_pk=first_part.pk)
    assert scored.status == RunStatus.SUCCEEDED and len(scored.scores) == 5

    done = services.cohort_run_execute(run_pk=run.pk)

    assert done.status == RunStatus.SUCCEEDED, done.error_message
    again = CohortChunk.objects.get(pk=first_part.pk)
    assert again.attempts == 1, "a scored part is not scored again"
    assert again.scores == scored.scores
    assert CohortChunk.objects.filter(run=run).count() == 9  # 3 conditions x 3 parts
    assert len(_scores(done)) == 36


def test_a_part_of_a_cancelled_run_cancels_itself(people):
    run = _run(people)
    part = services.cohort_chunks_plan(run=run, condition_indexes=[1])[0]
    CohortRun.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED)

    assert run_execute(model_label="evaluation.CohortChunk", run_pk=part.pk) is None

    part.refresh_from_db()
    assert part.status == RunStatus.CANCELLED
    assert part.scores == []


def test_a_failed_part_fails_its_run_with_the_part_s_reason(people):
    run = _run(people)
    parts = services.cohort_chunks_plan(run=run, condition_indexes=[0, 1, 2])
    CohortChunk.objects.filter(pk=parts[-1].pk).update(
        status=RunStatus.FAILED, error_message="The run stopped 3 times; it was not retried."
    )

    done = services.cohort_run_execute(run_pk=run.pk)

    assert done.status == RunStatus.FAILED
    assert done.error_message == "The run stopped 3 times; it was not retried."
    assert not CohortCaseScore.objects.filter(run=run).exists()


def test_the_summary_measured_part_by_part_equals_the_measures_of_the_stored_scores(people):
    # Each condition is measured as soon as its parts are in, while later parts are still
    # to score; the resident's table must be what the stored scores give.
    run = _run(people)
    done = services.cohort_run_execute(run_pk=run.pk)

    assert done.status == RunStatus.SUCCEEDED, done.error_message
    reference = services.cohort_variants(done.cohort_key, done.case_count)["as-built"]
    for index, condition in enumerate(done.summary["conditions"]):
        stored = [
            services.CaseResult(score=score, dice=dice)
            for _c, _i, score, dice in _scores(done)
            if _c == index
        ]
        assert condition["measures"] == services._condition_measures(
            reference=reference, results=stored
        )
    assert done.summary["conditions"][2]["measures"]["roc-auc"]["rows"]


def test_a_sweep_offers_a_few_parts_and_a_worker_handed_one_takes_the_rest(
    people, settings, django_capture_on_commit_callbacks
):
    settings.EVALUATION_PART_OFFERS = 2
    run = _run(people)
    with django_capture_on_commit_callbacks() as offers:
        parts = services.cohort_chunks_plan(run=run, condition_indexes=[1, 2])
    assert len(parts) == 6
    assert len(offers) == 2, "two messages for six parts"

    # The message for the first part reaches a worker: it scores that part, then every
    # part of the sweep still waiting, without a message for each.
    run_execute_delivered(model_label="evaluation.CohortChunk", run_pk=parts[0].pk)

    assert set(CohortChunk.objects.filter(run=run).values_list("status", flat=True)) == {
        RunStatus.SUCCEEDED
    }
    assert {part.worker for part in CohortChunk.objects.filter(run=run)} != {""}


def test_a_worker_handed_a_part_of_an_ended_sweep_takes_no_other_part(people):
    run = _run(people)
    parts = services.cohort_chunks_plan(run=run, condition_indexes=[1, 2])
    CohortRun.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED)

    run_execute_delivered(model_label="evaluation.CohortChunk", run_pk=parts[0].pk)

    statuses = dict(CohortChunk.objects.filter(run=run).values_list("pk", "status"))
    assert statuses.pop(parts[0].pk) == RunStatus.CANCELLED
    assert set(statuses.values()) == {RunStatus.QUEUED}


def test_a_sweep_s_run_is_announced_to_its_panel_and_its_parts_are_not(people):
    # No panel waits on a part (the run's panel shows the parts through the run's own
    # progress), so a part's many changes cost the broker nothing.
    run = _run(people)
    part = services.cohort_chunks_plan(run=run, condition_indexes=[1])[0]
    listening = announcements._redis().pubsub(ignore_subscribe_messages=True)
    listening.subscribe(announcements.run_channel(run), announcements.run_channel(part))
    try:
        announcements.run_change_announce(part)
        announcements.run_change_announce(run)
        heard = []
        deadline = time.monotonic() + 10
        while not heard and time.monotonic() < deadline:
            if message := listening.get_message(timeout=1):
                heard.append(message["channel"].decode())
        assert listening.get_message(timeout=0.5) is None
    finally:
        listening.close()
    assert heard == [announcements.run_channel(run)]
