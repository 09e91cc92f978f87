"""The user of a session is read from a compiled plan (accounts.backends.get_user): it must be
the row the ORM reads, and every check Django makes on it still holds at once: a
deactivated, deleted or re-passworded account loses its sessions on the next request."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import backends
from accounts.models import Role, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGE = "grading:my_grades"  # a page every signed-in user may open, anonymous may not


@pytest.fixture(autouse=True)
def no_plans_from_other_tests():
    backends._user_plans.forget()
    yield
    backends._user_plans.forget()


def _signed_in(client, user) -> bool:
    response = client.get(reverse(PAGE))
    return response.status_code == 200 and response.wsgi_request.user.pk == user.pk


def test_the_planned_user_is_the_row_the_orm_reads():
    user = UserFactory(role=Role.EXAMINER, first_name="Ezra", last_name="Kahn")
    planned = backends.ArtefactModelBackend().get_user(user.pk)
    expected = User.objects.get(pk=user.pk)
    for field in User._meta.concrete_fields:
        assert getattr(planned, field.attname) == getattr(expected, field.attname), field.name
    assert planned._state.adding is False and planned._state.db == "default"
    assert backends.ArtefactModelBackend().get_user(user.pk + 10_000) is None
    # A pk of another type than the plan's takes Django's own way, with the same answer.
    assert backends.ArtefactModelBackend().get_user(str(user.pk)).pk == user.pk


def test_a_session_ends_at_once_when_the_account_is_deactivated_deleted_or_repassworded(client):
    user = UserFactory(role=Role.RESIDENT)
    client.force_login(user)
    assert _signed_in(client, user)
    User.objects.filter(pk=user.pk).update(is_active=False)  # no signal: read live
    assert not _signed_in(client, user)
    User.objects.filter(pk=user.pk).update(is_active=True)
    client.force_login(user)
    assert _signed_in(client, user)
    user.set_password("another-long-passphrase-77")
    User.objects.filter(pk=user.pk).update(password=user.password)
    assert not _signed_in(client, user)  # the session's hash no longer matches
    client.force_login(user)
    assert _signed_in(client, user)
    user.delete()
    assert not _signed_in(client, user)


def test_the_next_request_reads_the_user_in_one_query_without_compiling(client, monkeypatch):
    first, second = UserFactory(role=Role.RESIDENT), UserFactory(role=Role.EDUCATOR)
    backends.ArtefactModelBackend().get_user(first.pk)
    assert len(backends._user_plans) == 1
    monkeypatch.setattr(backends, "model_plan_compile", lambda *a, **k: pytest.fail("compiled"))
    with CaptureQueriesContext(connection) as queries:
        assert backends.ArtefactModelBackend().get_user(second.pk).pk == second.pk
    assert len(queries) == 1
