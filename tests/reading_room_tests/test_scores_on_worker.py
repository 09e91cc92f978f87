"""The cohort's scores are computed once by a real `celery worker` on the batch queue."""

from __future__ import annotations

import time

import pytest

from reading_room import selectors, services
from reading_room.models import CaseScore
from runs.models import RunStatus

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SUBSET = 24


def test_scores_are_computed_on_the_worker_with_progress_and_reused(celery_worker, client, people):
    started = time.monotonic()
    score_set = services.score_set_request(source_key="ct-lesion-held-out", cases=SUBSET)
    seen_progress = set()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        score_set.refresh_from_db()
        seen_progress.add(score_set.progress_percent)
        if score_set.status in {RunStatus.SUCCEEDED, RunStatus.FAILED}:
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    assert score_set.status == RunStatus.SUCCEEDED, (
        score_set.error_message,
        celery_worker.log_path.read_text()[-3000:],
    )
    assert score_set.attempts == 1
    assert score_set.progress_percent == 100
    assert CaseScore.objects.filter(score_set=score_set).count() == SUBSET
    pool = selectors.score_set_arrays(score_set=score_set)
    assert pool.positive.any() and (~pool.positive).any()
    assert ((pool.scores >= 0) & (pool.scores <= 1)).all()
    print(
        f"\n{SUBSET} cases scored on the worker in {score_set.seconds:.2f} s "
        f"(request to ready {elapsed:.1f} s); progress seen: {sorted(seen_progress)}"
    )

    # The status fragment a lesson polls shows the finished set.
    client.force_login(people["resident"])
    fragment = client.get(f"/reading-room/scores/{score_set.pk}/status/").content.decode()
    assert "Scores ready" in fragment and f"{SUBSET} cases" in fragment

    # Asking again enqueues nothing and changes nothing.
    again = services.score_set_request(source_key="ct-lesion-held-out", cases=SUBSET)
    time.sleep(1.0)
    again.refresh_from_db()
    assert (again.pk, again.attempts, again.status) == (score_set.pk, 1, RunStatus.SUCCEEDED)
