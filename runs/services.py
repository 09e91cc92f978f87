"""Writes of the run engine: enqueue, claim, report progress, execute, cancel, sweep.

Every lab family's run goes through these functions (see runs.models for the state
machine). The rules that make a run durable live here once:
- the claim is ONE conditional UPDATE, so two deliveries of one message cannot both win on
  any database (no SELECT ... FOR UPDATE, which SQLite does not have);
- every worker-side write filters on (pk, RUNNING, attempts): a cancel, or a newer attempt
  that took the run over, is never overwritten by an attempt that lost it;
- a heartbeat thread keeps a live run fresh while one long call (a training epoch, an
  explainer on a 3D model) holds the worker, so the stale timeout can be short;
- one sweeper finds every concrete run model and re-offers lost work.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from runs.announcements import run_change_announce
from runs.log_context import run_logged
from runs.models import ACTIVE_STATUSES, FINAL_STATUSES, DurableRun, RunPolicy, RunStatus

logger = logging.getLogger(__name__)


class RunFailed(Exception):
    """Raised by a family's compute step; the message is written for the person who ran it.

    `store(held)`, where given, keeps what finished before the failure (a lab stopped for
    time keeps the maps it drew); it runs in the transaction that fails the run, only while
    this attempt still holds it.
    """

    def __init__(self, message, *, store=None) -> None:
        super().__init__(message)
        self.store = store


class RunAbandoned(Exception):
    """The run was cancelled or taken over by a newer attempt while this one computed."""


class RunTimedOut(Exception):
    """The run went past its family's soft time limit."""


class RunDeferred(Exception):
    """Raised by a family's compute step when the work cannot be done now but must not be
    lost (the service it sends to is down): the run goes back to QUEUED, its attempt given
    back (only crashes count towards max attempts), with the family's `fields` written in
    the same UPDATE (e.g. when to try again, which the family's claim gate then enforces).
    It is offered again after `delay_seconds`, and the sweeper offers it again anyway.
    """

    def __init__(self, message, *, delay_seconds: float, fields: dict | None = None) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds
        self.fields = fields or {}


def retry_backoff_seconds(tries: int, *, base: float, maximum: float) -> float:
    """Exponential backoff with a little jitter, for a deferred send (RunDeferred): a
    recovered peer is not hit at once by everything that waited for it."""
    return min(base * 2 ** max(tries - 1, 0), maximum) * random.uniform(0.8, 1.0)  # noqa: S311


def run_models() -> list[type[DurableRun]]:
    """Every concrete run model of the installed apps (what the sweeper and tests cover)."""
    return [model for model in apps.get_models() if issubclass(model, DurableRun)]


def _stale_before(now):
    return now - timedelta(seconds=settings.RUN_STALE_SECONDS)


def _held(run: DurableRun):
    """The row while this attempt still holds it: the filter on every worker-side write.

    `started_at` is stamped by each claim, so it tells apart two claims with the same
    attempt number: a family that runs a finished row again (deid re-runs, a failed score
    set asked for again) restarts its attempts at 0, and the old run's worker must not
    write into the new run.
    """
    return type(run).objects.filter(
        pk=run.pk, status=RunStatus.RUNNING, attempts=run.attempts, started_at=run.started_at
    )


def timed_out_message(policy: RunPolicy) -> str:
    return _(
        "The run took longer than %(s)g s, the limit for this kind of run, and was stopped."
    ) % {"s": policy.soft_limit_seconds or policy.hard_limit_seconds or 0}


# --- Enqueue ----------------------------------------------------------------------------


def task_send(name: str, *, kwargs: dict, **options) -> None:
    """Send the Celery task registered as `name` (its dotted path) with these keyword
    arguments; `options` are apply_async's (queue, priority, time limits).

    Services send tasks by name and never import a tasks module: tasks import services, so
    the other direction would be a cycle (import-linter forbids it; docs/layers.md).
    Routing is by name as well (config.celery task_routes) unless `options` name a queue.
    Fire and forget, as every task here is `ignore_result`. Celery's send_task ignores
    task_always_eager, so in eager mode (unit tests, CELERY_TASK_ALWAYS_EAGER) the registered
    task runs inline, exactly as apply_async would run it.
    """
    from celery import current_app

    if current_app.conf.task_always_eager:
        if name not in current_app.tasks:
            current_app.autodiscover_tasks(force=True)  # what a worker does when it starts
        current_app.tasks[name].apply_async(kwargs=kwargs, **options)
        return
    current_app.send_task(name, kwargs=kwargs, ignore_result=True, **options)


# Message priorities on the Redis transport, where 0 is served first (kombu keeps one list
# per step of priority_steps, default [0, 3, 6, 9], and BRPOPs them in that order). A run
# whose worker died mid-compute is offered again ahead of runs that never started: its
# resident has waited longest, and it would otherwise queue behind everything the same
# sweep re-offers after a restart.
OFFER_PRIORITY = 6
RESUME_PRIORITY = 0


def run_enqueue(
    *, model: type[DurableRun], run_pk: int, resume: bool = False, countdown: float | None = None
) -> None:
    """Hand the run to the broker on its family's queue. A broker that is down loses
    nothing: the row stays QUEUED and the sweeper offers it again. `resume`: the run was
    interrupted mid-compute; it goes ahead of fresh offers. `countdown`: not before so
    many seconds (a deferred run)."""
    policy = model.run_policy()
    options = {"countdown": countdown} if countdown else {}
    try:
        task_send(
            "runs.tasks.run_execute_task",
            kwargs={"model": model._meta.label, "run_pk": run_pk},
            queue=policy.queue,
            priority=RESUME_PRIORITY if resume else OFFER_PRIORITY,
            soft_time_limit=policy.soft_limit_seconds,
            time_limit=policy.hard_limit_seconds,
            **options,
        )
    except Exception:
        logger.exception("Could not enqueue %s %s; the sweeper will retry.", model.__name__, run_pk)


def run_enqueue_on_commit(*, run: DurableRun) -> None:
    """Enqueue once the row is committed, so a worker never looks for a row it cannot see."""
    model, run_pk = type(run), run.pk
    transaction.on_commit(lambda: run_enqueue(model=model, run_pk=run_pk))


def run_offer_again(*, run: DurableRun, from_statuses=FINAL_STATUSES, **fields) -> bool:
    """Queue a row that is not waiting or running as a new run, for families whose row a
    person runs again (a de-identification attempt with other options, a failed score
    set asked for again). Attempts, progress and error start afresh and the family's
    `fields` are written with them, in one conditional UPDATE, so of two requests one
    wins; enqueued once committed. False when the row was not in `from_statuses`.
    """
    offered = (
        type(run)
        .objects.filter(pk=run.pk, status__in=from_statuses)
        .update(
            status=RunStatus.QUEUED,
            attempts=0,
            progress_percent=0,
            progress_message="",
            error_message="",
            queued_at=timezone.now(),
            started_at=None,
            heartbeat_at=None,
            finished_at=None,
            **fields,
        )
    )
    if offered:
        run_enqueue_on_commit(run=run)
    return bool(offered)


# --- Claim ------------------------------------------------------------------------------


def run_claim(*, model: type[DurableRun], run_pk: int) -> DurableRun | None:
    """Take the run for this worker, or None when there is nothing to do.

    Claimable: QUEUED, or RUNNING with a stale heartbeat (its worker died and the broker
    re-delivered the message), while attempts < the family's max. One UPDATE decides, so
    of two deliveries exactly one wins. A run whose holder still beats is left alone and
    the message dropped: the sweeper offers it again if the holder dies, so nothing spins.
    A run the family's claim gate holds back (e.g. one running run per person) stays
    QUEUED, marked waiting, and its message is dropped too: the run that holds the place
    wakes it when it ends (`_wake_waiting`), and the sweeper is the safety net.
    """
    policy = model.run_policy()
    now = timezone.now()
    stale_before = _stale_before(now)
    rows = model.objects.filter(pk=run_pk)
    takeable = Q(status=RunStatus.QUEUED) | Q(
        status=RunStatus.RUNNING, heartbeat_at__lt=stale_before
    )
    exhausted = rows.filter(takeable, attempts__gte=policy.max_attempts).update(
        status=RunStatus.FAILED,
        error_message=_("The run stopped %(n)d times; it was not retried.")
        % {"n": policy.max_attempts},
        finished_at=now,
    )
    if exhausted:
        return None
    claim = rows.filter(takeable, attempts__lt=policy.max_attempts)
    if policy.claim_condition is not None:
        claim = claim.filter(policy.claim_condition(stale_before))
    claimed = claim.update(
        status=RunStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        progress_percent=1,
        progress_message=_("Starting"),
        error_message="",
    )
    if claimed:
        held = model.objects.get(pk=run_pk)
        transaction.on_commit(lambda: run_change_announce(held))
        return held
    if policy.claim_condition is not None:
        # queued_at moves with each offer, so the sweeper waits a stale period from now.
        rows.filter(status=RunStatus.QUEUED).update(
            progress_message=policy.waiting_message, queued_at=now
        )
    return None


def _wake_waiting(run: DurableRun) -> None:
    """A run ended on this worker: offer the oldest run its claim gate held back for it."""
    policy = type(run).run_policy()
    if policy.claim_condition is None or policy.waits_for is None:
        return
    model = type(run)
    waiting = (
        model.objects.filter(status=RunStatus.QUEUED, progress_message=policy.waiting_message)
        .filter(policy.waits_for(run))
        .order_by("-attempts", "queued_at", "pk")  # an interrupted run first
        .values_list("pk", "attempts")[:1]
    )
    for run_pk, attempts in waiting:
        if model.objects.filter(pk=run_pk, status=RunStatus.QUEUED).update(
            queued_at=timezone.now(), progress_message=_("Waiting for a worker")
        ):
            run_enqueue(model=model, run_pk=run_pk, resume=attempts > 0)


# --- Progress and heartbeat ---------------------------------------------------------------


class RunProgress:
    """`progress(percent, message)`: what a family's compute step calls as it goes.

    Each call proves this attempt still holds the run (RunAbandoned if it was cancelled or
    taken over) and enforces the soft time limit (RunTimedOut). Writes are throttled to one
    per RUN_PROGRESS_MIN_INTERVAL_SECONDS; between writes a read does the check.
    """

    def __init__(self, *, run: DurableRun, policy: RunPolicy) -> None:
        self.run, self.policy = run, policy
        self.claimed = time.monotonic()
        self.last_write = 0.0
        self.lost = threading.Event()  # set by the heartbeat thread when the row moved on

    def __call__(self, percent: int | None, message: str | None, **fields) -> None:
        """Report; `fields` are the family's own columns to write with it (never throttled)."""
        now = time.monotonic()
        soft = self.policy.soft_limit_seconds
        if soft and now - self.claimed > soft:
            raise RunTimedOut(self.run.pk)
        if self.lost.is_set():
            raise RunAbandoned(self.run.pk)
        if fields or now - self.last_write >= settings.RUN_PROGRESS_MIN_INTERVAL_SECONDS:
            if percent is not None:
                fields["progress_percent"] = max(0, min(int(percent), 100))
            if message is not None:
                fields["progress_message"] = str(message)[:200]
            still_held = _held(self.run).update(heartbeat_at=timezone.now(), **fields)
            self.last_write = now
            if still_held:
                transaction.on_commit(lambda: run_change_announce(self.run))
        else:
            still_held = _held(self.run).exists()
        if not still_held:
            raise RunAbandoned(self.run.pk)
        if settings.RUN_STEP_PAUSE_SECONDS:
            time.sleep(settings.RUN_STEP_PAUSE_SECONDS)


def _heartbeat_loop(progress: RunProgress, stop: threading.Event) -> None:
    try:
        while not stop.wait(settings.RUN_HEARTBEAT_SECONDS):
            if not _held(progress.run).update(heartbeat_at=timezone.now()):
                progress.lost.set()
                return
    except Exception:
        # A missed beat is not a failure of the run; the next progress report still writes.
        logger.exception("Heartbeat of run %s failed", progress.run.pk)
    finally:
        connection.close()  # this thread's own connection


@contextmanager
def _heartbeat(progress: RunProgress):
    """Beat from a thread while compute runs, independent of progress callbacks.

    Not inside an open transaction (unit tests run the executor in one): another
    connection could not see the uncommitted row, and a worker never holds one here.
    """
    if connection.in_atomic_block:
        yield
        return
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat_loop, args=(progress, stop), name="run-heartbeat", daemon=True
    )
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()


# --- Execute ------------------------------------------------------------------------------


def run_fail_if_held(run: DurableRun, message: str, *, store=None) -> None:
    """Fail the run only while this attempt still holds it (a cancel stays a cancel), and
    keep its partial results with `store(held)` in the same transaction."""
    with transaction.atomic():
        failed = _held(run).update(
            status=RunStatus.FAILED, error_message=message, finished_at=timezone.now()
        )
        if failed and store is not None:
            store(type(run).objects.get(pk=run.pk))


def run_defer_if_held(run: DurableRun, deferral: RunDeferred) -> bool:
    """Put the run back in the queue while this attempt still holds it (a cancel stays a
    cancel), give its attempt back, and offer it again after the deferral's delay."""
    deferred = _held(run).update(
        status=RunStatus.QUEUED,
        attempts=F("attempts") - 1,
        started_at=None,
        heartbeat_at=None,
        queued_at=timezone.now(),
        progress_percent=0,
        progress_message=str(deferral)[:200],
        **deferral.fields,
    )
    if deferred:
        model, run_pk = type(run), run.pk
        transaction.on_commit(
            lambda: run_enqueue(model=model, run_pk=run_pk, countdown=deferral.delay_seconds)
        )
    return bool(deferred)


def run_execute(*, model_label: str, run_pk: int, delivered: bool = True) -> DurableRun | None:
    """Claim the run, compute it and store its results. Safe to call any number of times.

    The family's `compute(run, progress)` returns `store(held)`; `store` runs in the
    transaction that turns the run SUCCEEDED, and only if (pk, RUNNING, attempts) still
    holds at that moment. Returns the finished row, or None when this delivery did nothing.
    Every log line written meanwhile carries the run's id (runs.log_context).
    `delivered=False`: another run's compute takes this one in its own process (a sweep
    scoring its own parts) rather than a broker message delivering it; the log says so.
    """
    with run_logged(model_label=model_label, run_pk=run_pk):
        return _run_execute(model_label=model_label, run_pk=run_pk, delivered=delivered)


def run_execute_delivered(*, model_label: str, run_pk: int) -> None:
    """What a broker message runs: its run, then the runs the family hands on to this
    worker (RunPolicy.next_run) until it has none, within half the message's time limit,
    so that no run taken in the same process is cut off by the message's limit."""
    model = apps.get_model(model_label)
    policy = model.run_policy()
    started = time.monotonic()
    run_execute(model_label=model_label, run_pk=run_pk)
    if not policy.next_run:
        return
    next_run = import_string(policy.next_run)
    room = (policy.soft_limit_seconds or policy.hard_limit_seconds or 0) / 2
    while time.monotonic() - started < room:
        following = next_run(run_pk)
        if following is None:
            return
        run_execute(model_label=model_label, run_pk=following, delivered=False)


def _run_execute(*, model_label: str, run_pk: int, delivered: bool) -> DurableRun | None:
    from celery.exceptions import SoftTimeLimitExceeded

    model = apps.get_model(model_label)
    if delivered:
        logger.info("Delivery of %s %s", model_label, run_pk)
    else:
        logger.info("Taken in process: %s %s", model_label, run_pk)
    run = run_claim(model=model, run_pk=run_pk)
    if run is None:
        return None
    policy = model.run_policy()
    compute = import_string(policy.compute)
    progress = RunProgress(run=run, policy=policy)
    try:
        with _heartbeat(progress):
            store = compute(run, progress)
        return run_complete(run=run, store=store)
    except RunAbandoned:
        logger.info(
            "%s %s was cancelled or taken over; dropping this attempt.", model_label, run_pk
        )
        return None
    except RunDeferred as deferral:
        run_defer_if_held(run, deferral)
    except (RunTimedOut, SoftTimeLimitExceeded):
        run_fail_if_held(run, timed_out_message(policy))
    except RunFailed as error:
        run_fail_if_held(run, str(error), store=error.store)
    except Exception:
        logger.exception("%s %s failed", model_label, run_pk)
        run_fail_if_held(run, _("The run failed on the worker. The error has been logged."))
    finally:
        # Ended one way or another: a waiting panel shows it now, and the place it held in
        # its family's gate is free.
        transaction.on_commit(lambda: run_change_announce(run))
        transaction.on_commit(lambda: _wake_waiting(run))
    return model.objects.get(pk=run_pk)


def run_complete(*, run: DurableRun, store) -> DurableRun | None:
    with transaction.atomic():
        # The guarded write comes first: it takes the row (PostgreSQL) or the database
        # (SQLite) for this transaction, so a cancel arriving now waits and then finds the
        # run final, and the store below is never half-visible.
        finished = _held(run).update(
            status=RunStatus.SUCCEEDED,
            progress_percent=100,
            progress_message=_("Done"),
            finished_at=timezone.now(),
        )
        if not finished:
            return None
        held = type(run).objects.get(pk=run.pk)
        if store is not None:
            store(held)
        return held


# --- Cancel and sweep ---------------------------------------------------------------------


def run_cancel(*, run: DurableRun) -> bool:
    """Cancel a waiting or running run; its worker notices at its next report or beat."""
    cancelled = (
        type(run)
        .objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES)
        .update(
            status=RunStatus.CANCELLED, finished_at=timezone.now(), progress_message=_("Cancelled")
        )
    )
    if cancelled:
        transaction.on_commit(lambda: run_change_announce(run))
    return bool(cancelled)


def run_model_sweep(*, model: type[DurableRun], now=None) -> list[int]:
    """Re-offer one model's lost runs; fail those past the hard time limit.

    Lost: QUEUED and not offered for RUN_STALE_SECONDS (the message never reached a
    worker), or RUNNING without a heartbeat for that long (the worker died). A stale
    RUNNING run goes back to QUEUED and its offer time is stamped, so it is offered once
    per stale period however many sweeps pass before a worker is free (few deliveries).
    """
    policy = model.run_policy()
    now = now or timezone.now()
    if policy.hard_limit_seconds:
        hard_before = now - timedelta(seconds=policy.hard_limit_seconds)
        model.objects.filter(status=RunStatus.RUNNING, started_at__lt=hard_before).update(
            status=RunStatus.FAILED, error_message=timed_out_message(policy), finished_at=now
        )
    stale_before = _stale_before(now)
    lost_offer = Q(status=RunStatus.QUEUED) & (
        Q(queued_at__lt=stale_before) | Q(queued_at__isnull=True)
    )
    # Interrupted: a worker had started it (attempts > 0) and died, now or at an earlier
    # offer. These go first, and at the resume priority, ahead of every run that has not
    # started yet, in the broker as in this loop.
    interrupted = Q(status=RunStatus.RUNNING, heartbeat_at__lt=stale_before) | (
        lost_offer & Q(attempts__gt=0)
    )
    never_started = lost_offer & Q(attempts=0)
    requeued = []
    for lost, resume in ((interrupted, True), (never_started, False)):
        for run_pk in model.objects.filter(lost).order_by("pk").values_list("pk", flat=True):
            offered = (
                model.objects.filter(pk=run_pk)
                .filter(
                    Q(status=RunStatus.QUEUED)
                    | Q(status=RunStatus.RUNNING, heartbeat_at__lt=stale_before)
                )
                .update(
                    status=RunStatus.QUEUED,
                    queued_at=now,
                    progress_message=_("Waiting for a worker"),
                )
            )
            if offered:
                run_enqueue(model=model, run_pk=run_pk, resume=resume)
                requeued.append(run_pk)
    if requeued:
        logger.warning("Re-offered lost %s runs: %s", model.__name__, requeued)
    return requeued


def runs_sweep(*, now=None) -> dict[str, list[int]]:
    """The one sweeper: every concrete run model, found in the app registry."""
    return {model._meta.label: run_model_sweep(model=model, now=now) for model in run_models()}
