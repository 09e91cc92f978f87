"""Curriculum test data: a small course built in code, so that each test stays fast."""

from __future__ import annotations

import pytest

from accounts.services import enrolment_create
from curriculum.models import (
    CurriculumPage,
    LessonLearningOutcome,
    LessonPage,
    ModuleLearningOutcome,
    ModulePage,
    ModulePrerequisite,
)
from curriculum.services import curriculum_index_ensure
from tests.lesson_pages import lesson_page_read


def page_add(parent, page):
    parent.add_child(instance=page)
    page.save_revision().publish()
    return page


def page_as(client, user, lesson) -> str:
    """The lesson page as `user` reads it (signed in, answered 200, its reader's parts in
    place)."""
    client.force_login(user)
    response = lesson_page_read(client, lesson.url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def small_course(db, people):
    """Course > module A (2 lessons) and module B (1 lesson, requires A); resident enrolled."""
    index = curriculum_index_ensure()
    course = page_add(
        index, CurriculumPage(title="Small course", slug="small", self_enrolment_allowed=True)
    )
    module_a = ModulePage(title="Module A", slug="a")
    module_a.outcomes = [ModuleLearningOutcome(text="Do A", domain="competences", level="III")]
    page_add(course, module_a)
    lessons_a = []
    for number in (1, 2):
        lesson = LessonPage(title=f"Lesson A{number}", slug=f"a{number}", estimated_minutes=10)
        lesson.outcomes = [
            LessonLearningOutcome(text=f"Know A{number}", domain="knowledge", level="II")
        ]
        lessons_a.append(page_add(module_a, lesson))
    module_b = ModulePage(title="Module B", slug="b")
    module_b.prerequisites = [ModulePrerequisite(required_module=module_a)]
    page_add(course, module_b)
    lesson_b = page_add(module_b, LessonPage(title="Lesson B1", slug="b1", estimated_minutes=5))
    enrolment_create(user=people["resident"], course=course)
    return {
        "course": course,
        "module_a": module_a,
        "module_b": module_b,
        "lessons_a": lessons_a,
        "lesson_b": lesson_b,
    }
