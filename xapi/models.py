"""The outbox: one durable run per xAPI statement (docs/xapi.md).

A statement is written in the transaction of the event it reports and sent by the run
engine's workers after commit. The row is the record: while the LRS is down a send is
deferred with a growing delay (the claim gate holds the row until `next_attempt_at`) and
the engine's sweeper keeps offering it, so nothing is lost; `statement_id` is the xAPI id
the LRS deduplicates on, so a statement sent twice (a worker that died after the POST) is
stored once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from runs.models import DurableRun, RunPolicy, next_attempt_due


class StatementOutbox(DurableRun):
    statement_id = models.UUIDField(unique=True, editable=False)
    event = models.CharField(max_length=40, db_index=True)  # e.g. "lesson.completed"
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    statement = models.JSONField()
    # Sends that found the LRS down or refusing (the engine's attempts count only crashes).
    send_tries = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    lrs_status = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta(DurableRun.Meta):
        verbose_name = _("xAPI statement")
        verbose_name_plural = _("xAPI outbox")
        indexes = [models.Index(fields=("status", "heartbeat_at"), name="xapi_status_beat")]

    def __str__(self) -> str:
        return f"{self.event} {self.statement_id}"

    @classmethod
    def run_policy(cls) -> RunPolicy:
        return RunPolicy(
            compute="xapi.services.statement_send_compute",
            queue=settings.XAPI_QUEUE,
            # Crashes only: an LRS that is down defers the send and keeps its attempt.
            max_attempts=5,
            # No time limits: the POST has its own timeout (XAPI_TIMEOUT_SECONDS, then the
            # send is deferred), and a limit would fail, i.e. drop, a statement whose worker
            # died and was not re-offered within it (the sweeper fails RUNNING rows past
            # the hard limit).
            soft_limit_seconds=None,
            hard_limit_seconds=None,
            claim_condition=next_attempt_due,
            waiting_message=_("Waiting to try the LRS again"),
        )
