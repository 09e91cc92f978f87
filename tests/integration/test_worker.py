"""Lab runs through a real Redis and a real `celery worker` process."""

from __future__ import annotations

import time

import pytest

from labs import services
from labs.models import LabRun, LabRunStatus

# serialized_rollback: Wagtail's root page and groups come from migrations and must survive
# the flush that ends each transactional test.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}")


def run_status(run_pk: int) -> LabRun:
    return LabRun.objects.get(pk=run_pk)


def test_a_submitted_run_completes_on_the_worker(celery_worker, demo_lesson, people):
    exercise = demo_lesson.body[1].value["exercise"]
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=120)
    done = wait_for(
        lambda: run_status(run.pk).status in {"succeeded", "failed"} and run_status(run.pk),
        timeout=90,
        what="the worker to finish the run",
    )
    assert done.status == LabRunStatus.SUCCEEDED, (
        done.error_message,
        celery_worker.log_path.read_text()[-3000:],
    )
    assert done.attempts == 1
    assert done.metrics["pixels relabelled (%)"] > 1
    assert done.original_overlay.read(4) == b"\x89PNG"
