"""A resident's progress page reads the course once, not once per lesson (issue 18: the page
residents open to see where they stand made 256 queries and took 0.4 s on the shipped
course). Query counts are deterministic; the page's speed is measured, not asserted."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from curriculum import selectors
from curriculum.models import LessonPage
from labs.models import LabExercise
from tests.assessments_tests.builders import choice_question, course_of, quiz
from tests.curriculum_tests.conftest import page_add

pytestmark = [pytest.mark.django_db]  # each test starts from an empty cache (tests/conftest.py)


def lab_lesson_add(module, number: int) -> LessonPage:
    exercise = LabExercise.objects.create(
        title=f"Noise lab {number}",
        model_key="ct-tissue",
        study_key="ct-small",
        perturbation_key="gaussian-noise",
    )
    lesson = LessonPage(title=f"Lab lesson {number}", slug=f"lab-lesson-{number}")
    lesson.body = [("lab", {"exercise": exercise, "introduction": ""})]
    return page_add(module, lesson)


def progress_queries(client) -> int:
    client.get(reverse("curriculum:my_progress"))  # durations cached, as after any reader
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("curriculum:my_progress"))
    assert page.status_code == 200
    return len(queries)


def lessons_total(client) -> int:
    (progress,) = client.get(reverse("curriculum:my_progress")).context["courses"]
    return progress.lessons_total


def test_the_progress_page_costs_the_same_however_many_lessons(client, demo_lesson, people):
    client.force_login(people["resident"])
    module = demo_lesson.get_parent().specific
    before = progress_queries(client)
    total_before = lessons_total(client)
    for number in range(4):
        lab_lesson_add(module, number)
    after = progress_queries(client)
    assert after == before, (before, after)
    assert lessons_total(client) == total_before + 4


def test_lessons_work_is_lesson_work_for_each_lesson(demo_lesson):
    """The batched read gives what each lesson's own read gives, a deleted exercise and a
    deleted quiz left out alike."""
    module = demo_lesson.get_parent().specific
    kept, gone = lab_lesson_add(module, 1), lab_lesson_add(module, 2)
    assessment = quiz([choice_question("Q1")], course=course_of(demo_lesson), pass_percent=50)
    doomed = quiz([choice_question("Q2")], course=course_of(demo_lesson), title="Doomed")
    kept.body.append(("quiz", {"assessment": assessment, "introduction": ""}))
    kept.body.append(("quiz", {"assessment": doomed, "introduction": ""}))
    kept.save_revision().publish()
    next(b.value["exercise"] for b in gone.body if b.block_type == "lab").delete()
    doomed.delete()

    lessons = list(LessonPage.objects.filter(pk__in=[demo_lesson.pk, kept.pk, gone.pk]))
    batched = selectors.lessons_work(lessons)
    for lesson in lessons:
        one = selectors.lesson_work(LessonPage.objects.get(pk=lesson.pk))
        assert batched[lesson.pk].quiz_ids == one.quiz_ids, lesson.title
        assert [(kind, ex.pk) for kind, ex in batched[lesson.pk].exercises] == [
            (kind, ex.pk) for kind, ex in one.exercises
        ], lesson.title
    assert batched[kept.pk].quiz_ids == {assessment.pk}
    assert batched[gone.pk].exercises == [] and not batched[gone.pk].exists
