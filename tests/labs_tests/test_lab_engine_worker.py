"""The lab engine through a real Redis and real `celery worker` processes: a break-it run
on the library's chest CT, the soft time limit, and a Redis restart that loses nothing."""

from __future__ import annotations

import time
from pathlib import Path

import kombu.pools
import pytest

from config import celery_app
from config.localservices import redis_start, worker_start, worker_wait_ready
from labs import services
from labs.models import LabRun, LabRunStatus
from tests.labs_tests import lab_support
from tests.labs_tests.lab_support import (
    exercise_make,
    library_index,
    offer,
)

chest_ct_library = lab_support.chest_ct_library  # the session's built library (fixture)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def messages_waiting(queue: str) -> int:
    """Messages on one queue across kombu's per-priority Redis lists (a run is offered at a
    priority, so its message sits in "<queue>\\x06\\x16<step>", not in "<queue>")."""
    channel = celery_app.connection().default_channel
    return sum(
        channel.client.llen(channel._q_for_pri(queue, step)) for step in channel.priority_steps
    )


def wait_for_final(run_pk: int, *, timeout: float, log: Path | None = None) -> LabRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = LabRun.objects.get(pk=run_pk)
        if run.status in (LabRunStatus.SUCCEEDED, LabRunStatus.FAILED, LabRunStatus.CANCELLED):
            return run
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"Run {run_pk} did not finish in {timeout}s. Worker log:\n{tail}")


def test_break_it_on_the_chest_ct_with_grad_cam_through_a_worker(
    celery_worker, people, settings, chest_ct_library
):
    library_index(chest_ct_library, settings)
    exercise = exercise_make(
        study_key="chest-ct",
        perturbations=[offer("gaussian-noise", 0, 300)],
        explainer_keys=["grad-cam"],
    )
    run = services.lab_run_create(
        user=people["resident"], exercise=exercise, severity=120, slice_number=60
    )
    done = wait_for_final(run.pk, timeout=120, log=celery_worker.log_path)
    assert done.status == LabRunStatus.SUCCEEDED, done.error_message
    assert done.attempts == 1
    assert done.summary["rows"] == 512 and done.summary["slice_number"] == 60
    for name in ("original.dcm", "perturbed.dcm", "saliency-grad-cam-perturbed.png"):
        assert name in done.outputs
    assert done.metrics["pixels relabelled (%)"] > 1


def test_soft_time_limit_on_the_worker_fails_the_run_with_its_reason(worker_env, people, tmp_path):
    env = {
        **worker_env,
        "LAB_RUN_SOFT_TIME_LIMIT_SECONDS": "1",
        "LAB_RUN_HARD_TIME_LIMIT_SECONDS": "30",
        "RUN_STEP_PAUSE_SECONDS": "0.6",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = worker_start(env=env, stdout=log, stderr=log)
    try:
        worker_wait_ready(celery_app)
        run = services.lab_run_create(
            user=people["resident"], exercise=exercise_make(), severity=50
        )
        done = wait_for_final(run.pk, timeout=60, log=log_path)
    finally:
        worker.stop()
    assert done.status == LabRunStatus.FAILED
    assert "took longer than 1 s" in done.error_message
    # The worker survived its task's time limit and is not holding the run.
    assert done.attempts == 1


def test_a_redis_restart_loses_no_submitted_run(
    worker_env, people, redis_server, settings, tmp_path
):
    """Submit while no worker listens, restart Redis (without persistence: the message is
    gone), then start a worker with the sweeper: the run, kept in the database, completes
    exactly once."""
    settings.RUN_STALE_SECONDS = 2
    # The session's Redis may still hold messages an earlier module left unconsumed (under
    # pytest-xdist a worker runs several modules against one Redis): count ours only.
    waiting_before = messages_waiting("interactive")
    run = services.lab_run_create(user=people["resident"], exercise=exercise_make(), severity=50)
    assert messages_waiting("interactive") == waiting_before + 1

    port = int(redis_server.url.rsplit(":", 1)[1].split("/")[0])
    redis_server.stop()
    restarted = redis_start(port=port, data_dir=tmp_path / "redis-after")
    # The session fixture stops whatever process it holds at the end of the session.
    redis_server.process = restarted.process
    # Pooled connections point at the old server. kombu.pools.reset closes them and forgets
    # the closed pools; the app must forget its connection and producer pools too, exactly
    # what Celery does after a fork, or every later acquire in this process (any test after
    # this one) fails with "Acquire on closed pool".
    kombu.pools.reset()
    celery_app._after_fork()
    assert messages_waiting("interactive") == 0
    assert LabRun.objects.get(pk=run.pk).status == LabRunStatus.QUEUED

    env = {**worker_env, "RUN_STALE_SECONDS": "2", "RUN_SWEEP_SECONDS": "1"}
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = worker_start(
            env=env, beat_schedule=tmp_path / "beat", stdout=log, stderr=log, name="after"
        )
    try:
        done = wait_for_final(run.pk, timeout=90, log=log_path)
    finally:
        worker.stop()
    assert done.status == LabRunStatus.SUCCEEDED, done.error_message
    assert done.attempts == 1
    assert "Re-offered lost LabRun runs" in log_path.read_text()
