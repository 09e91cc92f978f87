"""Educators author reader studies as Wagtail snippets; the shipped course places one in the
lesson on triage and screening, beside the reading-room simulators."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from curriculum.models import LessonPage
from curriculum.services import curriculum_content_load
from reader_study.models import ReaderStudyExercise


def test_an_educator_creates_a_reader_study_in_the_wagtail_admin(client, people):
    client.force_login(people["educator"])
    add_url = reverse("wagtailsnippets_reader_study_readerstudyexercise:add")
    assert client.get(add_url).status_code == 200
    response = client.post(
        add_url,
        {
            "title": "Automation bias on chest CT",
            "instructions": '{"blocks": [], "entityMap": {}}',
            "cases_per_arm": "16",
            "wrong_share": "0.25",
            "seed": "9",
            "is_published": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    exercise = ReaderStudyExercise.objects.get(title="Automation bias on chest CT")
    assert (exercise.wrong_marks, exercise.missed_lesions, exercise.false_marks) == (4, 2, 2)
    client.force_login(people["examiner"])
    assert client.get(add_url).status_code in (302, 403)


@pytest.mark.django_db
def test_an_odd_number_of_cases_is_refused():
    with pytest.raises(ValidationError) as refused:
        ReaderStudyExercise(title="Odd", cases_per_arm=15).full_clean()
    assert "cases_per_arm" in refused.value.message_dict


@pytest.mark.django_db
def test_the_shipped_course_places_the_study_beside_the_reading_room():
    curriculum_content_load()
    lesson = LessonPage.objects.get(slug="triage-and-screening")
    kinds = [block.block_type for block in lesson.body]
    assert kinds.index("reader_study") > kinds.index("reading_room")
    exercise = next(b.value["exercise"] for b in lesson.body if b.block_type == "reader_study")
    assert (exercise.cases_per_arm, exercise.wrong_marks) == (20, 4)
