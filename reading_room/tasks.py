"""Celery tasks for the reading room: thin wrappers that take primary keys and call one service."""

from celery import shared_task

from reading_room import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def score_set_compute_task(*, score_set_pk: int) -> None:
    services.score_set_compute(score_set_pk=score_set_pk)
