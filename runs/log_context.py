"""The ids a log line carries: the web request it was written for, the run it belongs to.

Two context variables, set by config.ops.RequestContextMiddleware (each request) and by
runs.services.run_execute (each delivery of a run), and read by LogContextFilter (named in
settings.LOGGING, so this module imports nothing of Django's). The filter puts them on every
log record, so that JSON logs (LOG_FORMAT=json) can be joined across the web, the workers
and hosts: one request id per request (a proxy's X-Request-ID when it is a plain token),
one run id per run ("labs.labrun:42").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
run_id_var: ContextVar[str] = ContextVar("run_id", default="")


@contextmanager
def run_logged(*, model_label: str, run_pk: int) -> Iterator[str]:
    """Log lines written inside carry this run's id."""
    token = run_id_var.set(f"{model_label.lower()}:{run_pk}")
    try:
        yield run_id_var.get()
    finally:
        run_id_var.reset(token)


class LogContextFilter(logging.Filter):
    """Put the current request id and run id on every record (empty outside either)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.run_id = run_id_var.get()
        return True
