"""Liveness, readiness, metrics and the ids on log lines (config.ops), against the real
database and the session's real Redis."""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from config import ops
from config.celery import app as celery_app
from config.localservices import ROOT
from labs.models import LabRun, LabRunStatus
from labs.services import lab_run_create
from runs.log_context import LogContextFilter, run_logged

TOKEN = "a-scrapers-token-of-at-least-32-characters"


def _samples(body: bytes) -> dict:
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_liveness_and_readiness_answer_without_revealing_anything(client, db):
    assert client.get(reverse("health")).content == b"ok"
    ready = client.get(reverse("readiness"))
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok", "storage": "ok"},
    }


def test_readiness_fails_when_the_broker_is_gone_and_says_only_which(client, db, caplog):
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        answer = client.get(reverse("readiness"))
    finally:
        celery_app.conf.broker_url = previous
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"database": "ok", "broker": "failing", "storage": "ok"}
    # The reason is in the log, not in the answer.
    assert "127.0.0.1:1" not in answer.content.decode()
    assert any("readiness check broker failed" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_metrics_need_the_token_and_count_queues_runs_and_requests(
    client, settings, demo_lesson, people
):
    settings.METRICS_TOKEN = TOKEN
    assert client.get(reverse("metrics")).status_code == 403
    wrong = client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 403

    # Two messages wait in `batch` (no worker here consumes it); a run succeeded after 4 s.
    # An earlier test on this broker may have left a run's offer in one of the queue's
    # priority lists, which the depth counts too: all of them start empty (and every test
    # ends with them emptied: conftest's broker_queues_emptied).
    ops._broker_client().delete(*ops.queue_broker_keys("batch"))
    for _ in range(2):
        celery_app.send_task("runs.tasks.runs_sweep_task", queue="batch")
    exercise = demo_lesson.body[1].value["exercise"]
    run = lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    now = timezone.now()
    LabRun.objects.filter(pk=run.pk).update(
        status=LabRunStatus.SUCCEEDED, started_at=now - timedelta(seconds=4), finished_at=now
    )
    client.get(reverse("health"))

    answer = client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 200
    samples = _samples(answer.content)
    assert samples[("artefact_queue_depth", (("queue", "batch"),))] == 2
    family = (("family", "labs.labrun"),)
    assert samples[("artefact_runs", (("family", "labs.labrun"), ("status", "succeeded")))] == 1
    assert samples[("artefact_runs_failed_total", family)] == 0
    assert samples[("artefact_run_duration_seconds_bucket", (*family, ("le", "2.0")))] == 0
    assert samples[("artefact_run_duration_seconds_bucket", (*family, ("le", "5.0")))] == 1
    assert samples[("artefact_run_duration_seconds_sum", family)] == pytest.approx(4.0)
    health = (("method", "GET"), ("status", "200"), ("view", "health"))
    assert samples[("artefact_http_requests_total", health)] >= 1
    # Nothing personal: no user names, no study or patient data.
    assert people["resident"].username.encode() not in answer.content


def test_requests_and_runs_put_their_ids_on_json_log_lines(client, db):
    from pythonjsonlogger.json import JsonFormatter

    records: list[str] = []
    handler = logging.Handler()
    handler.addFilter(LogContextFilter())
    formatter = JsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s %(run_id)s")
    handler.emit = lambda record: records.append(formatter.format(record))
    logger = logging.getLogger("config.ops")
    logger.addHandler(handler)
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # a failing check logs a line
    try:
        answer = client.get(reverse("readiness"), HTTP_X_REQUEST_ID="proxy-id-0123456789")
        with run_logged(model_label="labs.LabRun", run_pk=42):
            logger.warning("inside a run")
    finally:
        celery_app.conf.broker_url = previous
        logger.removeHandler(handler)
    assert answer["X-Request-ID"] == "proxy-id-0123456789"
    lines = [json.loads(line) for line in records]
    request_line = next(line for line in lines if "broker" in line["message"])
    assert request_line["request_id"] == "proxy-id-0123456789"
    assert lines[-1]["run_id"] == "labs.labrun:42"
    assert lines[-1]["request_id"] == ""
    # A header that is not a plain token is replaced, not written into the logs.
    replaced = client.get(reverse("health"), HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert replaced["X-Request-ID"] != "bad id\nwith newline"
    assert len(replaced["X-Request-ID"]) == 32


def _decoded(encoding: str, raw: bytes) -> bytes:
    """An envelope as the SDK sent it: gzip, or brotli when the `brotli` module is installed
    (the SDK prefers it then; locust's dependencies bring it)."""
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding == "br":
        import brotli

        return brotli.decompress(raw)
    return raw


def test_an_error_reaches_the_error_tracker_when_a_dsn_is_set(tmp_path):
    """SENTRY_DSN set: settings start the SDK, and an error is sent to the configured
    server (a local HTTP server here, like a self-hosted GlitchTip)."""

    received: list[tuple[str, bytes]] = []

    class Tracker(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers.get("Content-Encoding", ""), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Tracker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = (
        "import django, sentry_sdk; django.setup()\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n    sentry_sdk.capture_exception()\n"
        "sentry_sdk.flush(timeout=10)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SENTRY_DSN": f"http://publickey@127.0.0.1:{server.server_port}/1",
        "ARTEFACT_VAR_DIR": str(tmp_path),
    }
    try:
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=120)
    finally:
        server.shutdown()
    assert received, "nothing reached the error tracker"
    body = b"".join(_decoded(encoding, raw) for encoding, raw in received)
    assert b"ZeroDivisionError" in body
    assert b'"environment":"development"' in body.replace(b" ", b"")
