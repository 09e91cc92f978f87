"""The outbox against a real LRS (ralph) through a real worker, Redis and PostgreSQL, with
the LRS stopped in the middle: what was made while it was down arrives once it is back,
each statement exactly once, and a statement sent again is deduplicated by the LRS."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from assessments import services as assessment_services
from config import celery_app
from config.localservices import worker_start, worker_wait_ready
from curriculum.services import lesson_completion_record
from runs.models import RunStatus
from runs.services import run_offer_again
from tests.assessments_tests.builders import choice_question, quiz
from tests.xapi_tests.fixtures import lrs_configure
from tests.xapi_tests.lrs import RalphLrs
from xapi.models import StatementOutbox

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def wait_for(predicate, *, timeout: float, what: str, logs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    tails = "\n".join(log.read_text()[-2000:] for log in logs if log.exists())
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}\n{tails}")


def statuses() -> Counter:
    return Counter(StatementOutbox.objects.values_list("status", flat=True))


def test_statements_made_while_the_lrs_is_down_arrive_once_when_it_is_back(
    worker_env, demo_lesson, people, settings, monkeypatch, tmp_path, client, capsys
):
    lrs = RalphLrs(tmp_path / "lrs")
    lrs.start()
    lrs_configure(lrs, settings, monkeypatch)
    env = {
        **worker_env,
        "XAPI_LRS_URL": lrs.url,
        "XAPI_LRS_USERNAME": lrs.username,
        "XAPI_LRS_PASSWORD": lrs.password,
        "XAPI_HOMEPAGE": settings.XAPI_HOMEPAGE,
        "XAPI_RETRY_BASE_SECONDS": "0.5",
        "XAPI_RETRY_MAX_SECONDS": "2",
        "RUN_STALE_SECONDS": "2",
        "RUN_SWEEP_SECONDS": "1",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = worker_start(env=env, beat_schedule=tmp_path / "beat", stdout=log, stderr=log)
    logs = (log_path, lrs.log_path)
    try:
        worker_wait_ready(celery_app)
        resident = people["resident"]
        client.force_login(resident)

        # LRS up: three lesson views are sent as they happen.
        for _ in range(3):
            assert client.get(demo_lesson.url).status_code == 200
        wait_for(
            lambda: statuses() == {RunStatus.SUCCEEDED: 3}, timeout=60, what="3 sent", logs=logs
        )
        before_outage = set(StatementOutbox.objects.values_list("pk", flat=True))

        # LRS down: views, a completion and a quiz (2 answers, completed, scored).
        lrs.stop()
        for _ in range(4):
            client.get(demo_lesson.url)
        lesson_completion_record(user=resident, lesson=demo_lesson)
        assessment = quiz([choice_question("Q1", correct=1), choice_question("Q2", correct=0)])
        attempt = assessment_services.attempt_start(assessment=assessment, user=resident)
        for position in range(2):
            assessment_services.response_save(
                attempt=attempt, position=position, form={"choice": ["1"]}
            )
        assessment_services.attempt_submit(attempt=attempt)
        during = StatementOutbox.objects.exclude(pk__in=before_outage)
        assert during.count() == 9
        # Every one of them was tried, found the LRS down and, with backoff, tried again.
        wait_for(
            lambda: all(tries >= 2 for tries in during.values_list("send_tries", flat=True)),
            timeout=60,
            what="each statement to be retried while the LRS is down",
            logs=logs,
        )
        assert not during.filter(status__in=(RunStatus.SUCCEEDED, RunStatus.FAILED)).exists()
        sends_while_down = sum(during.values_list("send_tries", flat=True))

        # LRS back: everything queued arrives.
        lrs.start()
        wait_for(
            lambda: statuses() == {RunStatus.SUCCEEDED: 12},
            timeout=90,
            what="the queued statements to be delivered",
            logs=logs,
        )
        stored_ids = Counter(statement["id"] for statement in lrs.stored())
        outbox_ids = {
            str(pk) for pk in StatementOutbox.objects.values_list("statement_id", flat=True)
        }
        assert set(stored_ids) == outbox_ids
        assert set(stored_ids.values()) == {1}  # each exactly once

        # A statement offered again (an admin's "send again") reaches the LRS a second
        # time; the LRS knows its id and stores nothing new (ralph answers an identical
        # statement 204 No Content, a differing one 409 Conflict).
        row = during.order_by("pk").first()
        run_offer_again(run=row, next_attempt_at=None)
        wait_for(
            lambda: StatementOutbox.objects.filter(
                pk=row.pk, status=RunStatus.SUCCEEDED, lrs_status__in=(204, 409)
            ).exists(),
            timeout=60,
            what="the resend to be answered",
            logs=logs,
        )
        assert len(lrs.stored()) == 12
        with capsys.disabled():
            print(
                f"\nxAPI outage: made 12 (3 before, 9 while down); sends while down "
                f"{sends_while_down}; POSTs received by the LRS {lrs.posts_received()}; "
                f"stored {len(lrs.stored())}, each once; resend answered "
                f"{StatementOutbox.objects.get(pk=row.pk).lrs_status}"
            )
    finally:
        worker.stop()
        lrs.stop()
