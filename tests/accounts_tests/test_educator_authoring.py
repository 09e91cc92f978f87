"""Educators author every exercise kind in the Wagtail admin, not only the superuser."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

AUTHORED_SNIPPETS = [
    "labs_labexercise",
    "evaluation_cohortexercise",
    "reading_room_readingroomexercise",
    "deid_lab_deidexercise",
    "assessments_question",
    "assessments_assessment",
    "grading_rubric",
]


@pytest.mark.parametrize("snippet", AUTHORED_SNIPPETS)
def test_an_educator_may_create_and_list_every_exercise_kind(client, people, snippet):
    client.force_login(people["educator"])
    assert client.get(reverse(f"wagtailsnippets_{snippet}:list")).status_code == 200
    assert client.get(reverse(f"wagtailsnippets_{snippet}:add")).status_code == 200
    # A resident has no admin at all.
    client.force_login(people["resident"])
    assert client.get(reverse(f"wagtailsnippets_{snippet}:add")).status_code in (302, 403)
