"""The audit log is append-only: through the model, the queryset, raw SQL and the admin."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from grading import services
from grading.models import AuditAction, AuditEntry, AuditLogIsAppendOnly
from tests.grading_tests.builders import essay_exam, finished_attempt, levels

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(people):
    exam = essay_exam()
    _attempt, essay = finished_attempt(exam, people["resident"], text="Text", auto_score=0)
    services.mark_submit(response=essay, examiner=people["examiner"], levels=levels(3, 4))
    return AuditEntry.objects.get(response=essay, action=AuditAction.MARK_CREATE)


def test_an_entry_records_who_when_before_after(entry, people):
    assert entry.actor == people["examiner"]
    assert entry.resident == people["resident"]
    assert entry.at is not None
    assert entry.before == {}
    assert entry.after["points"] == 14.0


def test_entries_cannot_be_changed_or_deleted_through_the_model(entry):
    entry.reason = "rewritten"
    with pytest.raises(AuditLogIsAppendOnly):
        entry.save()
    with pytest.raises(AuditLogIsAppendOnly):
        entry.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="rewritten")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.bulk_update([entry], ["reason"])
    assert AuditEntry.objects.get(pk=entry.pk).reason == ""


def test_the_database_refuses_an_update_even_in_raw_sql(entry):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE grading_auditentry SET reason = 'rewritten' WHERE id = %s", [entry.pk]
        )
    assert AuditEntry.objects.get(pk=entry.pk).reason == ""


def test_the_admin_shows_entries_but_offers_no_change_or_delete(client, entry, people):
    client.force_login(people["admin"])
    change_url = reverse("admin:grading_auditentry_change", args=[entry.pk])
    page = client.get(change_url)
    assert page.status_code == 200  # a read-only view
    assert "Save" not in page.content.decode()
    assert client.post(change_url, {"reason": "rewritten"}).status_code == 403
    delete_url = reverse("admin:grading_auditentry_delete", args=[entry.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).reason == ""


def test_the_audit_log_page_is_for_programme_admins(client, entry, people):
    url = reverse("grading:audit_log")
    client.force_login(people["admin"])
    html = client.get(url).content.decode()
    assert "Mark given" in html
    client.force_login(people["examiner"])
    assert client.get(url).status_code == 403


def test_educators_author_rubrics_in_wagtail_and_examiners_do_not(client, people):
    add_url = reverse("wagtailsnippets_grading_rubric:add")
    client.force_login(people["educator"])
    page = client.get(add_url)
    assert page.status_code == 200
    assert "Used for (a question or a whole assessment)" in page.content.decode()
    client.force_login(people["examiner"])
    assert client.get(add_url).status_code in (302, 403)


def test_postgres_refuses_a_delete_even_in_raw_sql(entry):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps no DELETE trigger (see migration 0002); CI runs PostgreSQL.")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM grading_auditentry WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
