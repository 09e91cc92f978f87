"""The top navigation is built once per set of entries a user may follow, and kept: what a
user sees must still follow their permissions and the site's URLs, never another user's."""

from __future__ import annotations

import pytest
from django.urls import get_script_prefix, reverse, set_script_prefix

from accounts.models import Role
from accounts.services import user_role_set
from config.navigation import navigation_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _links(entries) -> dict[str, str]:
    found = {}
    for entry in entries:
        for link in getattr(entry, "links", (entry,)):
            found[str(link.label)] = link.url
    return found


def test_a_role_change_shows_at_once_in_the_kept_navigation():
    resident = UserFactory(role=Role.RESIDENT)
    examiner = UserFactory(role=Role.EXAMINER)
    assert "Grading queue" not in _links(navigation_for(resident))
    assert _links(navigation_for(examiner))["Grading queue"] == reverse("grading:queue")
    # The resident's kept navigation is not served to them once they may grade, and the
    # examiner's is not shown to a resident.
    user_role_set(user=resident, role=Role.EXAMINER)
    assert "Grading queue" in _links(navigation_for(resident))
    assert "Grading queue" not in _links(navigation_for(UserFactory(role=Role.RESIDENT)))


def test_the_navigation_follows_the_script_prefix():
    resident = UserFactory(role=Role.RESIDENT)
    before = get_script_prefix()
    try:
        set_script_prefix("/artefact/")
        prefixed = _links(navigation_for(resident))
    finally:
        set_script_prefix(before)
    assert prefixed["My progress"].startswith("/artefact/")
    assert not _links(navigation_for(resident))["My progress"].startswith("/artefact/")


def test_the_kept_navigation_is_translated_when_shown():
    from django.utils import translation

    resident = UserFactory(role=Role.RESIDENT)
    navigation_for(resident)  # built (and kept) in English
    with translation.override("de"):
        labels = _links(navigation_for(resident))
    assert "My progress" not in labels, labels
