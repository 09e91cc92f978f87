"""Celery tasks for cohort labs. Cohort runs execute through the run engine
(runs.tasks.run_execute_task); these two names are kept for one release, so messages
queued before the upgrade still run."""

from celery import shared_task

from evaluation import services
from runs.services import runs_sweep


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def cohort_run_execute_task(*, run_pk: int) -> None:
    services.cohort_run_execute(run_pk=run_pk)


@shared_task(ignore_result=True)
def cohort_runs_requeue_stale_task() -> None:
    runs_sweep()
