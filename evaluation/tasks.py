"""Celery tasks for cohort labs: thin wrappers that take primary keys and call one service."""

from celery import shared_task

from evaluation import services


# Soft limit: the service fails the run with a message; hard limit: the sweeper re-queues.
@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=900,
    time_limit=960,
)
def cohort_run_execute_task(*, run_pk: int) -> None:
    services.cohort_run_execute(run_pk=run_pk)


@shared_task(ignore_result=True)
def cohort_runs_requeue_stale_task() -> None:
    services.cohort_runs_requeue_stale()
