"""Celery tasks for labs: thin wrappers that take primary keys and call one service."""

from celery import shared_task
from django.conf import settings

from labs import services


# The time limits are read when the worker imports this module (its environment).
@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=settings.LAB_RUN_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.LAB_RUN_HARD_TIME_LIMIT_SECONDS,
)
def lab_run_execute_task(*, run_pk: int) -> None:
    services.lab_run_execute(run_pk=run_pk)


@shared_task(ignore_result=True)
def lab_runs_requeue_stale_task() -> None:
    services.lab_runs_requeue_stale()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def uploaded_model_validate_task(*, model_pk: int) -> None:
    services.uploaded_model_validate(model_pk=model_pk)
