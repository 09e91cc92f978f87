"""Which exercises a lesson embeds, as every lab family's start rule asks it: read from the
lesson's stored body, without converting blocks or fetching exercises."""

from __future__ import annotations

import pytest

from curriculum.models import LessonPage
from runs.lessons import lesson_exercise_ids

pytestmark = pytest.mark.django_db


def test_the_lesson_s_own_exercises_of_one_family_and_no_other(demo_lesson):
    lesson = LessonPage.objects.get(pk=demo_lesson.pk)
    embedded = {block.value["exercise"].pk for block in lesson.body if block.block_type == "lab"}
    assert embedded  # the demo lesson has a lab
    assert lesson_exercise_ids(lesson, block_type="lab") == embedded
    # Another family's block type names none of them.
    assert lesson_exercise_ids(lesson, block_type="cohort_lab") == set()


def test_asking_reads_no_exercise(demo_lesson, django_assert_num_queries):
    lesson = LessonPage.objects.get(pk=demo_lesson.pk)
    with django_assert_num_queries(0):
        lesson_exercise_ids(lesson, block_type="lab")


def test_a_block_without_an_exercise_names_none(demo_lesson):
    lesson = LessonPage.objects.get(pk=demo_lesson.pk)
    before = lesson_exercise_ids(lesson, block_type="lab")
    raw = list(lesson.body.raw_data)
    raw.append({"type": "lab", "value": {"exercise": None}, "id": "no-exercise-chosen"})
    lesson.body = raw
    lesson.save()
    assert lesson_exercise_ids(LessonPage.objects.get(pk=lesson.pk), block_type="lab") == before
