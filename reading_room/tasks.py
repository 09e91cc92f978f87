"""Celery tasks for the reading room. Score sets execute through the run engine
(runs.tasks.run_execute_task); the name below is kept for one release, so messages queued
before the upgrade still run."""

from celery import shared_task

from reading_room import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def score_set_compute_task(*, score_set_pk: int) -> None:
    services.score_set_execute(score_set_pk=score_set_pk)
