"""Lab runs through a real Redis and a real `celery worker` process."""

from __future__ import annotations

import time

import pytest

from config import celery_app
from config.localservices import worker_start, worker_wait_ready
from labs import services
from labs.models import LabRun, LabRunStatus

# serialized_rollback: Wagtail's root page and groups come from migrations and must survive
# the flush that ends each transactional test.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}")


def run_status(run_pk: int) -> LabRun:
    return LabRun.objects.get(pk=run_pk)


def test_a_submitted_run_completes_on_the_worker(celery_worker, demo_lesson, people):
    exercise = demo_lesson.body[1].value["exercise"]
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=120)
    done = wait_for(
        lambda: run_status(run.pk).status in {"succeeded", "failed"} and run_status(run.pk),
        timeout=90,
        what="the worker to finish the run",
    )
    assert done.status == LabRunStatus.SUCCEEDED, (
        done.error_message,
        celery_worker.log_path.read_text()[-3000:],
    )
    assert done.attempts == 1
    assert done.metrics["pixels relabelled (%)"] > 1
    assert done.original_overlay.read(4) == b"\x89PNG"


def test_a_worker_killed_mid_run_loses_nothing(worker_env, demo_lesson, people, settings, tmp_path):
    """SIGKILL the worker while it computes; a second worker's sweeper finds the silent run,
    re-queues it, and it completes exactly once."""
    settings.LAB_RUN_STALE_SECONDS = 3
    env = {
        **worker_env,
        "LAB_RUN_STEP_PAUSE_SECONDS": "1.0",
        "LAB_RUN_STALE_SECONDS": "3",
        "LAB_RUN_SWEEP_SECONDS": "1",
    }
    exercise = demo_lesson.body[1].value["exercise"]
    with (tmp_path / "first-worker.log").open("wb") as log:
        first = worker_start(env=env, name="first", stdout=log, stderr=log)
    try:
        worker_wait_ready(celery_app)
        run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=80)
        wait_for(
            lambda: run_status(run.pk).progress_percent >= 25,
            timeout=60,
            what="the first worker to be mid-run",
        )
    finally:
        first.kill_hard()
    killed = run_status(run.pk)
    assert killed.status == LabRunStatus.RUNNING and killed.attempts == 1

    second_log = tmp_path / "second-worker.log"
    with second_log.open("wb") as log:
        second = worker_start(
            env=env, name="second", beat_schedule=tmp_path / "beat", stdout=log, stderr=log
        )
    try:
        done = wait_for(
            lambda: run_status(run.pk).status in {"succeeded", "failed"} and run_status(run.pk),
            timeout=90,
            what="the second worker to recover and finish the run",
        )
    finally:
        second.stop()
    assert done.status == LabRunStatus.SUCCEEDED, second_log.read_text()[-3000:]
    assert done.attempts == 2
    assert done.progress_percent == 100
    assert "Re-enqueued stale lab runs" in second_log.read_text()
