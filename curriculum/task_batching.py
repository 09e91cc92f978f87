"""Wagtail's index updates, run once per object at the end of a bulk load.

Wagtail (through django-tasks) updates its search index and its reference index after
every save of a page. Loading the course saves each page several times (created, revised,
published, reordered), so about half of a full load was spent indexing states that the next
save replaced. Inside `tasks_batched()` each distinct task call waits until the batch ends
and then runs once, reading the object as it is by then; outside a batch, and in every other
thread, tasks run at once as with django-tasks' immediate backend.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django_tasks.backends.immediate import ImmediateBackend
from django_tasks.base import TaskResult, TaskResultStatus
from django_tasks.utils import get_random_id

_batch = threading.local()


class BatchingImmediateBackend(ImmediateBackend):
    """django-tasks' immediate backend that holds tasks back inside `tasks_batched()`."""

    def enqueue(self, task, args, kwargs) -> TaskResult:
        pending: dict | None = getattr(_batch, "pending", None)
        if pending is None:
            return super().enqueue(task, args, kwargs)
        self.validate_task(task)
        result = TaskResult(
            task=task,
            id=get_random_id(),
            status=TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        key = (task.module_path, json.dumps([args, kwargs], sort_keys=True, default=str))
        # The latest call takes the place of an earlier identical one: the index is written
        # after everything the batch saved before it.
        pending.pop(key, None)
        pending[key] = result
        return result


@contextmanager
def tasks_batched() -> Iterator[None]:
    """Hold this thread's tasks until the block ends; run each distinct call once then.

    If the block raises, the held tasks are dropped with the work they describe (the load
    is one transaction). Nested batches join the outer one.
    """
    if getattr(_batch, "pending", None) is not None:
        yield
        return
    _batch.pending = {}
    try:
        yield
        held = list(_batch.pending.values())
    finally:
        _batch.pending = None
    for result in held:
        # Tasks these tasks enqueue run at once: the batch is closed.
        result.task.get_backend()._execute_task(result)
