"""Wagtail's search and reference indexes after a course load and after an edit.

The loader holds index updates until it ends (curriculum/task_batching.py): an educator
searching the admin still finds every loaded page as it was loaded, the reference index
still knows what each lesson points at, and an edit outside a load is indexed at once.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django_tasks.signals import task_finished
from wagtail.models import ReferenceIndex

from curriculum.models import LessonPage
from curriculum.services import curriculum_content_load
from curriculum.task_batching import tasks_batched

pytestmark = pytest.mark.django_db

LESSONS = {"where-ai-fails/when-noise-breaks-a-model", "where-ai-fails/domain-shift-and-shortcuts"}


@pytest.fixture
def tasks_run():
    """Each index task that ran, as (task, arguments)."""
    ran: Counter = Counter()

    def record(sender, task_result, **kwargs):
        ran[(task_result.task.name, tuple(task_result.args))] += 1

    task_finished.connect(record)
    yield ran
    task_finished.disconnect(record)


def test_a_loaded_course_is_searchable_and_indexed_once_per_page(tasks_run):
    course, _report = curriculum_content_load(only_lessons=LESSONS)

    lessons = list(LessonPage.objects.live().descendant_of(course))
    assert {lesson.title for lesson in lessons} == {
        "When noise breaks a model",
        "Domain shift and shortcut learning",
    }
    found = LessonPage.objects.live().search("noise breaks")
    assert "When noise breaks a model" in {page.title for page in found}
    # The lessons' lab blocks point at lab exercises: the reference index lists them.
    for lesson in lessons:
        assert ReferenceIndex.get_references_for_object(lesson).exists(), lesson.title

    search_updates = {
        args: count for (name, args), count in tasks_run.items() if "insert_or_update" in name
    }
    for lesson in lessons:
        assert search_updates[("curriculum", "lessonpage", str(lesson.pk))] == 1, lesson.title
    assert max(tasks_run.values()) == 1, tasks_run.most_common(3)


def test_an_edit_outside_a_load_is_searchable_at_once(tasks_run):
    course, _report = curriculum_content_load(only_lessons=LESSONS)
    lesson = LessonPage.objects.live().descendant_of(course).get(slug="when-noise-breaks-a-model")

    lesson.title = "Quantum mottle and a classifier"
    lesson.save_revision().publish()

    assert lesson.title in {page.title for page in LessonPage.objects.live().search("mottle")}


def test_a_failed_batch_indexes_nothing(tasks_run):
    course, _report = curriculum_content_load(only_lessons=LESSONS)
    lesson = LessonPage.objects.live().descendant_of(course).get(slug="when-noise-breaks-a-model")
    tasks_run.clear()

    with pytest.raises(RuntimeError), tasks_batched():
        lesson.title = "Never indexed"
        lesson.save()
        raise RuntimeError("the load stops here")

    assert tasks_run == Counter()
