"""Operations: liveness, readiness, Prometheus metrics, and the ids on every log line.

- `/healthz` (liveness): the web process answers. Nothing else is looked at, so a slow
  database never makes an orchestrator kill healthy web processes.
- `/readyz` (readiness): the database, the broker and the file storage answer. The body
  names the three checks and says ok or failing; why one fails (host names, errors) goes to
  the log only.
- `/metrics` (Prometheus text format), for programme admins signed in and for a scraper
  presenting `Authorization: Bearer $METRICS_TOKEN` (rule "runs.view_metrics"): requests by
  method, view and status, and their durations (this process; see PROMETHEUS_MULTIPROC_DIR
  in the deployment docs for several gunicorn workers); and, read at scrape time from the
  broker and the database, so any one web process tells the truth for every host: messages
  waiting per Celery queue, runs per family and status, failed runs, run durations.
- `RequestContextMiddleware` gives each request an id (a proxy's X-Request-ID when it is a
  plain token, else a new one), returns it as X-Request-ID, and counts the request;
  runs.log_context.LogContextFilter puts that id and the run id on every log record, for
  the JSON log format (LOG_FORMAT=json).
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from accounts import permissions
from runs.files import storage_is_local
from runs.log_context import request_id_var
from runs.models import RunStatus

logger = logging.getLogger(__name__)

# A proxy's request id is kept only when it is a plain token: it is written into logs.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Seconds: a page is expected well under one; labs take seconds; training, minutes.
REQUEST_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
RUN_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)
# kombu's Redis transport keeps a queue's priorities in sibling lists (name, name\x06\x163, ...).
KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
KOMBU_PRIORITY_STEPS = (3, 6, 9)

HTTP_REQUESTS = Counter(
    "artefact_http_requests",
    "HTTP requests answered, by method, view and status code.",
    ["method", "view", "status"],
)
HTTP_SECONDS = Histogram(
    "artefact_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and view.",
    ["method", "view"],
    buckets=REQUEST_BUCKETS,
)


# --- Log context and request metrics -------------------------------------------------------


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if REQUEST_ID_PATTERN.fullmatch(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        # The URL's name, not its path: a bounded set of label values whatever is requested.
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match else "") or "unmatched"
        HTTP_REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        HTTP_SECONDS.labels(request.method, view).observe(time.perf_counter() - started)
        return response


# --- Liveness and readiness ----------------------------------------------------------------


@require_GET
@never_cache
def liveness(request):
    """The web process answers (for load balancers and the run command)."""
    return HttpResponse("ok", content_type="text/plain")


def _database_ready() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _broker_client():
    import redis

    from config.celery import app as celery_app

    return redis.Redis.from_url(
        celery_app.conf.broker_url, socket_connect_timeout=2, socket_timeout=2
    )


def _broker_ready() -> None:
    if not _broker_client().ping():
        raise ConnectionError("the broker did not answer PING")


def _storage_ready() -> None:
    if storage_is_local():
        media = Path(settings.MEDIA_ROOT)
        media.mkdir(parents=True, exist_ok=True)
        if not os.access(media, os.W_OK):
            raise PermissionError(f"{media} is not writable")
    else:
        # One HEAD request: the bucket answers and our credentials are accepted.
        default_storage.exists(".readiness-probe")


READINESS_CHECKS = {"database": _database_ready, "broker": _broker_ready, "storage": _storage_ready}


@require_GET
@never_cache
def readiness(request):
    """503 until the database, the broker and the storage all answer; says which fail."""
    results = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception:
            logger.exception("readiness check %s failed", name)
            results[name] = "failing"
        else:
            results[name] = "ok"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "unready", "checks": results},
        status=200 if ready else 503,
    )


# --- Metrics --------------------------------------------------------------------------------


def queue_depths() -> dict[str, int]:
    """Messages waiting in each Celery queue (all priorities), read from the broker."""
    from config.celery import app as celery_app

    client = _broker_client()
    return {
        queue.name: sum(int(client.llen(key)) for key in queue_broker_keys(queue.name))
        for queue in celery_app.conf.task_queues
    }


def queue_broker_keys(name: str) -> list[str]:
    """The Redis lists holding one queue's messages: the queue's own and one per priority."""
    return [name] + [f"{name}{KOMBU_PRIORITY_SEPARATOR}{step}" for step in KOMBU_PRIORITY_STEPS]


class PlatformCollector:
    """Gauges and histograms read at scrape time from the broker and the database."""

    def collect(self):
        from runs.services import run_models

        depth = GaugeMetricFamily(
            "artefact_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        try:
            for queue, waiting in queue_depths().items():
                depth.add_metric([queue], waiting)
        except Exception:
            logger.exception("reading queue depths for /metrics failed")
        yield depth

        runs = GaugeMetricFamily(
            "artefact_runs", "Runs by family and status.", labels=["family", "status"]
        )
        failed = CounterMetricFamily(
            "artefact_runs_failed", "Runs that ended failed, by family.", labels=["family"]
        )
        durations = HistogramMetricFamily(
            "artefact_run_duration_seconds",
            "From the last attempt's start to the end, of runs that succeeded, by family.",
            labels=["family"],
        )
        for model in run_models():
            family = model._meta.label_lower
            counts = {
                row["status"]: row["n"]
                for row in model.objects.order_by().values("status").annotate(n=Count("pk"))
            }
            for status in RunStatus.values:
                runs.add_metric([family, status], counts.get(status, 0))
            failed.add_metric([family], counts.get(RunStatus.FAILED, 0))
            buckets, total = _duration_buckets(model)
            durations.add_metric([family], buckets=buckets, sum_value=total)
        yield runs
        yield failed
        yield durations


def _duration_buckets(model) -> tuple[list[tuple[str, int]], float]:
    took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    done = (
        model.objects.filter(
            status=RunStatus.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False
        )
        .order_by()
        .annotate(took=took)
    )
    aggregates = {
        f"le_{index}": Count("pk", filter=Q(took__lte=timedelta(seconds=bound)))
        for index, bound in enumerate(RUN_BUCKETS)
    }
    row = done.aggregate(count=Count("pk"), total=Sum("took"), **aggregates)
    buckets = [(str(float(bound)), row[f"le_{i}"]) for i, bound in enumerate(RUN_BUCKETS)]
    buckets.append(("+Inf", row["count"]))
    total = row["total"]
    return buckets, total.total_seconds() if total else 0.0


def _registries() -> list[CollectorRegistry]:
    """This process's request metrics (or every gunicorn worker's, in multiprocess mode)
    and the platform's, read now."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
        sources = [registry]
    else:
        sources = [REGISTRY, registry]
    registry.register(PlatformCollector())
    return sources


def _bearer_token_valid(request) -> bool:
    expected = getattr(settings, "METRICS_TOKEN", "")
    offered = request.headers.get("Authorization", "")
    if not expected or not offered.startswith("Bearer "):
        return False
    return hmac.compare_digest(offered.removeprefix("Bearer ").encode(), expected.encode())


@require_GET
@never_cache
def metrics(request):
    if not permissions.may(
        request.user, "runs.view_metrics", token_valid=_bearer_token_valid(request)
    ):
        return HttpResponse("Forbidden.", status=403, content_type="text/plain")
    body = b"".join(generate_latest(source) for source in _registries())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
