"""Celery tasks for the de-identification lab: thin wrappers that call one service."""

from celery import shared_task

from deid_lab import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deid_run_execute_task(*, attempt_pk: int) -> None:
    services.deid_run_execute(attempt_pk=attempt_pk)


@shared_task(ignore_result=True)
def deid_runs_requeue_stale_task() -> None:
    services.deid_runs_requeue_stale()
