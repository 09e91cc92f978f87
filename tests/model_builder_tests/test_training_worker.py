"""Training through a real Redis and a real `celery worker`: completion, a worker killed
mid-training that another worker resumes from the checkpoint, and cancelling."""

from __future__ import annotations

import pytest

from config import celery_app
from config.localservices import worker_start, worker_wait_ready
from model_builder import services
from model_builder.models import TrainingRun, TrainingRunStatus
from runs.services import run_cancel
from tests.model_builder_tests.support import TINY, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def fresh(run_pk: int) -> TrainingRun:
    return TrainingRun.objects.get(pk=run_pk)


def test_a_tiny_training_completes_on_the_worker(celery_worker, people):
    run = services.training_run_create(user=people["resident"], title="Tiny", raw_config=TINY)
    done = wait_for(
        lambda: fresh(run.pk).status in {"succeeded", "failed"} and fresh(run.pk),
        timeout=180,
        what="the worker to train the model",
    )
    assert done.status == TrainingRunStatus.SUCCEEDED, (
        done.error_message,
        celery_worker.log_path.read_text()[-3000:],
    )
    assert done.attempts == 1 and done.progress_percent == 100
    assert [row["epoch"] for row in done.history] == [1, 2]
    assert done.metrics["test"]["auc"]["value"] is not None
    assert done.model_archive.read(2) == b"PK"  # a TorchScript zip


def test_a_worker_killed_mid_training_is_resumed_from_its_checkpoint(
    worker_env, people, settings, tmp_path
):
    """SIGKILL the worker after the first epoch; a second worker's sweeper finds the silent
    run, and the new attempt goes on from epoch 2 instead of starting again."""
    settings.RUN_STALE_SECONDS = 3
    env = {
        **worker_env,
        "MODEL_BUILDER_EPOCH_PAUSE_SECONDS": "4",
        "RUN_STALE_SECONDS": "3",
        "RUN_SWEEP_SECONDS": "1",
    }
    with (tmp_path / "first-worker.log").open("wb") as log:
        first = worker_start(env=env, name="first", stdout=log, stderr=log)
    try:
        worker_wait_ready(celery_app)
        run = services.training_run_create(
            user=people["resident"], title="Resumable", raw_config={**TINY, "epochs": 3}
        )
        wait_for(
            lambda: len(fresh(run.pk).history) >= 1,
            timeout=180,
            what="the first worker to finish an epoch",
        )
    finally:
        first.kill_hard()
    killed = fresh(run.pk)
    assert killed.status == TrainingRunStatus.RUNNING and killed.attempts == 1
    epochs_before = [row["epoch"] for row in killed.history]
    assert epochs_before in ([1], [1, 2])

    second_log = tmp_path / "second-worker.log"
    with second_log.open("wb") as log:
        second = worker_start(
            env=env, name="second", beat_schedule=tmp_path / "beat", stdout=log, stderr=log
        )
    try:
        done = wait_for(
            lambda: fresh(run.pk).status in {"succeeded", "failed"} and fresh(run.pk),
            timeout=180,
            what="the second worker to resume and finish the training",
        )
    finally:
        second.stop()
    log_text = second_log.read_text()
    assert done.status == TrainingRunStatus.SUCCEEDED, (done.error_message, log_text[-3000:])
    assert done.attempts == 2
    assert [row["epoch"] for row in done.history] == [1, 2, 3]
    # The epochs the first worker finished were not trained again by the second.
    for row in done.history:
        expected_attempt = 1 if row["epoch"] in epochs_before else 2
        assert row["attempt"] == expected_attempt, done.history
    assert "Re-offered lost TrainingRun runs" in log_text
    assert f"resumed after epoch {epochs_before[-1]}" in log_text


def test_cancel_stops_the_training_within_seconds(worker_env, people, tmp_path):
    env = {**worker_env, "MODEL_BUILDER_EPOCH_PAUSE_SECONDS": "3"}
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = worker_start(env=env, stdout=log, stderr=log)
    try:
        worker_wait_ready(celery_app)
        run = services.training_run_create(
            user=people["resident"], title="Cancelled", raw_config={**TINY, "epochs": 8}
        )
        wait_for(lambda: len(fresh(run.pk).history) >= 1, timeout=180, what="a first epoch")
        assert run_cancel(run=fresh(run.pk))
        # A generous budget for a busy machine: "stopped early" is the history below,
        # fewer epochs than asked for, not a number of seconds.
        wait_for(
            lambda: "was cancelled or taken over" in log_path.read_text(),
            timeout=180,
            what="the worker to stop the trainer",
        )
        stopped = fresh(run.pk)
        assert stopped.status == TrainingRunStatus.CANCELLED
        assert len(stopped.history) < 8 and not stopped.model_archive
        # The worker is free again: her next training runs at once.
        again = services.training_run_create(
            user=people["resident"], title="Again", raw_config=TINY
        )
        wait_for(
            lambda: fresh(again.pk).status == "succeeded",
            timeout=180,
            what="the next training on the freed worker",
        )
    finally:
        worker.stop()
    assert fresh(run.pk).status == TrainingRunStatus.CANCELLED
