"""Celery tasks for assessments: thin wrappers around one service each."""

from celery import shared_task

from assessments import services


@shared_task(ignore_result=True)
def attempts_overdue_submit_task() -> None:
    """The sweeper (celery beat): attempts past their deadline are submitted as timed out,
    even when nobody opens them again. Page views run the same check lazily."""
    services.attempts_overdue_submit()
