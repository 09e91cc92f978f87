"""A run's changes announced over the broker's Redis, so a waiting progress panel answers
the moment its run moves instead of at its next poll.

The row stays the record: an announcement only says "read the row again" (a publish on the
channel of that run), and one that is lost costs the panel at most its wait. A poll of a
young run (runs.models.POLL_YOUNG_SECONDS, where an interactive lab finishes) is held by the
web process until the run changes or RUN_STATUS_WAIT_SECONDS pass; issue 18 measured the
fixed 100 ms poll adding ~85 ms to a ~0.5 s break-it lab, a fifth of it. A held request
occupies a web thread, so each web process holds at most RUN_STATUS_WAIT_SLOTS at once and
answers the rest at once, with the ordinary poll delay.

Redis is the broker's (Celery's `broker_url`: tests point it at their own server). In eager
mode (CELERY_TASK_ALWAYS_EAGER) a run is computed inside the request that queues it, so
nothing is announced or awaited. When Redis does not answer, publishing is skipped and a
panel polls as it did before announcements.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings

from runs.models import DurableRun

logger = logging.getLogger(__name__)

_slots_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None
_clients: dict[str, object] = {}


def _celery_conf():
    from celery import current_app

    return current_app.conf


def _redis():
    """One client per broker URL in this process (redis-py reconnects after a fork)."""
    import redis

    url = _celery_conf().broker_url
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
    return _clients[url]


def run_channel(run: DurableRun) -> str:
    return f"artefact:run:{run._meta.label_lower}:{run.pk}"


def run_change_announce(run: DurableRun) -> None:
    """Tell any panel waiting on `run` to read its row again (after the change committed).
    Families no panel waits on (RunPolicy.announced False) publish nothing."""
    import redis

    if _celery_conf().task_always_eager or not type(run).run_policy().announced:
        return
    try:
        _redis().publish(run_channel(run), b"changed")
    except redis.RedisError as error:
        logger.warning("Run %s changed but could not be announced: %s", run.pk, error)


def _wait_slot() -> threading.BoundedSemaphore:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(max(1, settings.RUN_STATUS_WAIT_SLOTS))
        return _slots


def run_change_await(run: DurableRun, *, changed: Callable[[], bool]) -> bool:
    """Hold this request until `run` is announced as changed, `changed()` says it already
    has, or RUN_STATUS_WAIT_SECONDS pass. Returns whether it waited at all: False when no
    slot was free (or waiting is switched off), so the panel should poll at its usual pace.

    `changed()` is asked once after subscribing: a change committed between the caller's
    read and the subscription would otherwise not be heard until the deadline.
    """
    import redis

    seconds = settings.RUN_STATUS_WAIT_SECONDS
    if seconds <= 0 or settings.RUN_STATUS_WAIT_SLOTS <= 0 or _celery_conf().task_always_eager:
        return False
    slot = _wait_slot()
    if not slot.acquire(blocking=False):
        return False
    try:
        subscription = _redis().pubsub(ignore_subscribe_messages=True)
        try:
            subscription.subscribe(run_channel(run))
            if changed():
                return True
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                if subscription.get_message(timeout=left) is not None:
                    break
        finally:
            subscription.close()
    except redis.RedisError as error:
        logger.warning("Waiting on run %s fell back to polling: %s", run.pk, error)
        return False
    finally:
        slot.release()
    return True
