"""Celery tasks for labs: thin wrappers that take primary keys and call one service.

Lab runs execute through the run engine (runs.tasks.run_execute_task). The two run task
names below are kept for one release, so messages queued before the upgrade still run.
"""

from celery import shared_task

from labs import services
from runs.services import runs_sweep


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def lab_run_execute_task(*, run_pk: int) -> None:
    services.lab_run_execute(run_pk=run_pk)


@shared_task(ignore_result=True)
def lab_runs_requeue_stale_task() -> None:
    runs_sweep()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def uploaded_model_validate_task(*, model_pk: int) -> None:
    services.uploaded_model_validate(model_pk=model_pk)
