"""Celery tasks for the model builder: thin wrappers that take primary keys."""

from celery import shared_task

from model_builder import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def training_run_execute_task(*, run_pk: int) -> None:
    services.training_run_execute(run_pk=run_pk)


@shared_task(ignore_result=True)
def training_runs_requeue_stale_task() -> None:
    services.training_runs_requeue_stale()
