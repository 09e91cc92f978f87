"""A robustness sweep through a real Redis and a real `celery worker` on the batch queue."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from config import celery_app
from config.localservices import worker_start
from evaluation import services
from evaluation.models import CohortChunk, CohortRun, CohortRunStatus
from tests.evaluation_tests.support import cohort_exercise_make

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_sweep_completes_on_the_worker_with_progress(celery_worker, people, settings, client):
    settings.EVALUATION_CASE_LIMIT = 12
    exercise = cohort_exercise_make(perturbation_key="gaussian-noise", severities="0, 50, 150")
    run = services.cohort_run_create(user=people["resident"], exercise=exercise)
    seen_progress: set[int] = set()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        current = CohortRun.objects.get(pk=run.pk)
        seen_progress.add(current.progress_percent)
        if not current.is_active:
            break
        time.sleep(0.1)
    assert current.status == CohortRunStatus.SUCCEEDED, (
        current.error_message,
        celery_worker.log_path.read_text()[-3000:],
    )
    assert current.attempts == 1
    # 12 cases x (unperturbed + 50 HU + 150 HU of noise).
    assert current.case_scores.count() == 36
    assert [c["severity"] for c in current.conditions] == [None, 50.0, 150.0]
    assert any(0 < percent < 100 for percent in seen_progress), seen_progress
    client.force_login(people["resident"])
    page = client.get(reverse("evaluation:run_detail", args=[run.pk])).text
    assert reverse("evaluation:robustness_plot", args=[run.pk]) in page
    assert "150 σ (HU)" in page


def test_one_sweep_is_shared_by_every_free_worker(worker_env, people, settings, tmp_path):
    """Two workers, one resident's sweep: both score its parts, and the result is whole."""
    # Both workers answer a ping before the sweep is queued, and each reserves one message
    # at a time (acks late, prefetch 1), so each takes a part as soon as the parts are
    # published. The pause per progress report (RUN_STEP_PAUSE_SECONDS; a part reports as
    # it starts and when its 3 cases are done) keeps parts long enough that a worker still
    # loading its model at first is not outrun by the other for all 24: one worker alone
    # would take 14 s or more. The test asserts a share, not a time.
    env = {
        **worker_env,
        "EVALUATION_CASE_LIMIT": "24",
        "EVALUATION_CHUNK_CASES": "3",
        "RUN_STEP_PAUSE_SECONDS": "0.3",
    }
    settings.EVALUATION_CASE_LIMIT = 24
    settings.EVALUATION_CHUNK_CASES = 3
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    workers = []
    for index, path in enumerate(logs):
        with path.open("wb") as log:
            workers.append(worker_start(env=env, name=f"w{index}", stdout=log, stderr=log))
    try:
        deadline = time.monotonic() + 120
        while len(celery_app.control.ping(timeout=0.5)) < 2 and time.monotonic() < deadline:
            pass
        exercise = cohort_exercise_make(perturbation_key="gaussian-noise", severities="0, 150, 300")
        run = services.cohort_run_create(user=people["resident"], exercise=exercise)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            current = CohortRun.objects.get(pk=run.pk)
            if not current.is_active:
                break
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.stop()
    tails = "\n".join(path.read_text()[-2000:] for path in logs)
    assert current.status == CohortRunStatus.SUCCEEDED, (current.error_message, tails)
    parts = CohortChunk.objects.filter(run=current)
    # Three conditions of 24 cases in parts of 3: 24 parts, every one scored once.
    assert parts.count() == 24
    assert set(parts.values_list("status", flat=True)) == {CohortRunStatus.SUCCEEDED}
    assert current.case_scores.count() == 72
    workers_used = set(parts.values_list("worker", flat=True))
    assert len(workers_used) == 2, (workers_used, tails)
    assert current.summary["parts"] == {"count": 24, "workers": 2}
