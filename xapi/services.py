"""Writes of the xAPI outbox: queue a statement with its event, send it to the LRS.

`statement_queue` is called from the signal receivers (xapi.receivers), inside the
transaction of the event, so a statement exists exactly when its event was committed.
`statement_send_compute` is the outbox's compute step under the run engine
(runs.services.run_execute): a statement the LRS stored, or already had (204 or 409
Conflict on our stable id), succeeds; an LRS that is down, overloaded or refusing our credentials
defers it (runs.services.RunDeferred) with exponential backoff; one it rejects as
malformed (400) fails, and an admin sees why in the outbox (Django admin).
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from runs.services import RunDeferred, RunFailed, retry_backoff_seconds, run_enqueue
from xapi import statements
from xapi.models import StatementOutbox

logger = logging.getLogger(__name__)

XAPI_VERSION = "1.0.3"


def xapi_enabled() -> bool:
    """Sending is the programme's choice: off unless an LRS is configured."""
    return bool(settings.XAPI_LRS_URL)


def statement_queue(
    *,
    event: str,
    event_key: str,
    user_pk: int,
    verb_key: str,
    obj: dict,
    timestamp,
    result: dict | None = None,
    context: dict | None = None,
) -> uuid.UUID | None:
    """Put a statement in the outbox (once per event key) and offer it after commit.

    INSERT ... ON CONFLICT DO NOTHING: an event reported twice (a row saved again) keeps
    the first statement, and no IntegrityError spoils the caller's transaction. Returns
    the statement's id; None while xAPI is off.
    """
    if not xapi_enabled():
        return None
    statement_id = statements.statement_uuid(f"{event}:{event_key}")
    built = statements.statement(
        statement_id=statement_id,
        user_pk=user_pk,
        verb_key=verb_key,
        obj=obj,
        timestamp=timestamp or timezone.now(),
        result=result,
        context=context,
    )
    StatementOutbox.objects.bulk_create(
        [
            StatementOutbox(
                statement_id=statement_id,
                event=event,
                user_id=user_pk,
                statement=built,
                queued_at=timezone.now(),
            )
        ],
        ignore_conflicts=True,
    )
    transaction.on_commit(lambda: _offer(statement_id))
    return statement_id


def _offer(statement_id) -> None:
    pk = (
        StatementOutbox.objects.filter(statement_id=statement_id, status="queued", attempts=0)
        .values_list("pk", flat=True)
        .first()
    )
    if pk is not None:
        run_enqueue(model=StatementOutbox, run_pk=pk)


def retry_delay(tries: int) -> float:
    return retry_backoff_seconds(
        tries, base=settings.XAPI_RETRY_BASE_SECONDS, maximum=settings.XAPI_RETRY_MAX_SECONDS
    )


class LrsAnswer:
    def __init__(self, status: int | None, body: str) -> None:
        self.status, self.body = status, body


def lrs_post(statement: dict) -> LrsAnswer:
    """POST one statement to the LRS's statements resource; status None: not reached."""
    url = settings.XAPI_LRS_URL.rstrip("/") + "/statements"
    if not url.startswith(("https://", "http://")):  # urllib would also open file: URLs
        return LrsAnswer(None, "XAPI_LRS_URL is not an http(s) URL")
    credentials = f"{settings.XAPI_LRS_USERNAME}:{settings.XAPI_LRS_PASSWORD}".encode()
    request = urllib.request.Request(  # noqa: S310 (the URL is the operator's setting)
        url,
        data=json.dumps(statement).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Experience-API-Version": XAPI_VERSION,
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.XAPI_TIMEOUT_SECONDS) as answer:  # noqa: S310
            return LrsAnswer(answer.status, answer.read(2000).decode(errors="replace"))
    except urllib.error.HTTPError as error:
        return LrsAnswer(error.code, error.read(2000).decode(errors="replace"))
    except (OSError, ValueError) as error:  # refused, reset, timed out, bad URL
        return LrsAnswer(None, str(error))


def statement_send_compute(run: StatementOutbox, progress):
    """The outbox's compute step (RunPolicy.compute): send the statement once."""
    progress(20, _("Sending to the LRS"))
    if not xapi_enabled():
        _defer(run, None, _("xAPI is switched off; the statement waits until it is on again."))
    answer = lrs_post(run.statement)
    progress(90, _("Answered by the LRS"))
    # A resend of a stored statement: ralph answers 204 when it is identical, an LRS may
    # answer 409 Conflict; either way the statement with this id is there once.
    if answer.status is not None and (200 <= answer.status < 300 or answer.status == 409):

        def store(held: StatementOutbox) -> None:
            held.lrs_status, held.last_error = answer.status, ""
            held.send_tries += 1
            held.save(update_fields=["lrs_status", "last_error", "send_tries"])

        return store
    if answer.status == 400:
        StatementOutbox.objects.filter(pk=run.pk).update(
            lrs_status=400, send_tries=run.send_tries + 1
        )
        raise RunFailed(_("The LRS rejected the statement: %(why)s") % {"why": answer.body[:500]})
    _defer(run, answer.status, answer.body)


def _defer(run: StatementOutbox, status: int | None, why: str):
    tries = run.send_tries + 1
    delay = retry_delay(tries)
    message = (
        _("LRS unreachable; trying again in %(s)d s")
        if status is None
        else _("LRS answered %(status)s; trying again in %(s)d s")
    ) % {"status": status, "s": round(delay)}
    logger.warning("xAPI statement %s deferred: %s (%s)", run.statement_id, message, why[:300])
    raise RunDeferred(
        message,
        delay_seconds=delay,
        fields={
            "send_tries": tries,
            "next_attempt_at": timezone.now() + timedelta(seconds=delay),
            "last_error": f"{status or 'no answer'}: {why}"[:2000],
            "lrs_status": status,
        },
    )
