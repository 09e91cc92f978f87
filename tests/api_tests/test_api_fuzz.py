"""The REST API fuzzed from its own OpenAPI schema (schemathesis): for every operation,
generated requests with a resident's and an educator's token never get a 5xx, and every
response matches what the schema says (status code, content type, body).

Bounded and repeatable: a fixed number of examples per operation, derandomised (the same
cases on every run), no example database.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks

from api import services

EXAMPLES_PER_OPERATION = 12
CHECKS = [
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def _schema_document() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


class InTestWSGIHandler(WSGIHandler):
    """Django's WSGI entry point as its test client runs it: the test's database connection
    (and the transaction the test runs in) stays open across requests."""

    def __call__(self, environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            return super().__call__(environ, start_response)
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


schema = schemathesis.openapi.from_dict(_schema_document())
schema.app = InTestWSGIHandler()

pytestmark = pytest.mark.django_db
CALLS: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def calls_reported():
    """How much the fuzzer did, printed for the issue's report (`-s` shows it)."""
    yield
    print(f"schemathesis: {len(CALLS)} requests over {len(set(CALLS))} operations")


@pytest.fixture
def tokens(db, module_world):
    people = module_world["people"]
    return {
        who: services.token_create(user=people[who], name="fuzz")[1]
        for who in ("resident", "educator")
    }


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_fails_or_leaves_its_schema(case, tokens):
    for token in tokens.values():
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        CALLS.append(f"{case.method} {case.path}")
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: 5xx"
        case.validate_response(response, checks=CHECKS)
