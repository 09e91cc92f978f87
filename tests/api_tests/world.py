"""One world per test module for the API tests: people by role and the demo course with
the resident enrolled."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import override_settings

from accounts.services import enrolment_create
from curriculum.services import demo_course_ensure
from tests.factories import people_create


@pytest.fixture(scope="module")
def module_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """People and the demo course, built once for the module in a transaction rolled back
    at its end; each test runs in a savepoint of it (pytest-django's `db`)."""
    overrides = override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("api-media"))
    overrides.enable()
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        with django_db_blocker.unblock():
            people = people_create()
            lesson = demo_course_ensure()
            course = lesson.get_parent().get_parent()
            enrolment_create(user=people["resident"], course=course)
            exercise = lesson.body[1].value["exercise"]
        yield {"people": people, "lesson": lesson, "course": course, "exercise": exercise}
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
        overrides.disable()


@pytest.fixture
def world(db, module_world):
    for person in module_world["people"].values():
        person.refresh_from_db()
    return module_world
