"""Celery tasks for the de-identification lab. Runs execute through the run engine
(runs.tasks.run_execute_task); these two names are kept for one release, so messages
queued before the upgrade still run."""

from celery import shared_task

from deid_lab import services
from runs.services import runs_sweep


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deid_run_execute_task(*, attempt_pk: int) -> None:
    services.deid_run_execute(attempt_pk=attempt_pk)


@shared_task(ignore_result=True)
def deid_runs_requeue_stale_task() -> None:
    runs_sweep()
