"""A resident's progress in lessons is read from a plan compiled once per shape
(curriculum.selectors._progress_rows, accounts.query_plans): it must find exactly the rows
the ORM's query finds, for each user their own, with answers read back as the ORM reads
them, and not compile again for the next reader."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from accounts.services import enrolment_create
from curriculum import selectors
from curriculum.models import CompletionSource, LessonPage
from curriculum.services import curriculum_content_load, lesson_completion_record
from labs.models import LabRun, LabRunStatus
from tests.factories import UserFactory, cohort_run_finished, lab_answers_for

pytestmark = pytest.mark.django_db

# A shipped lesson with single-image labs and a cohort lab: two lab families in one query.
COHORT_LESSON = "where-ai-fails/domain-shift-and-shortcuts"


@pytest.fixture
def lesson_with_two_families(people):
    course, _report = curriculum_content_load(only_lessons={COHORT_LESSON})
    lesson = LessonPage.objects.live().descendant_of(course).get(slug=COHORT_LESSON.split("/")[1])
    return course, lesson


@pytest.fixture(autouse=True)
def no_plans_from_other_tests():
    selectors._progress_plans.forget()
    yield
    selectors._progress_plans.forget()


def _work_done(lesson, user, *, answered: bool) -> None:
    """Every lab of the lesson run by `user`; the questions answered when `answered`."""
    for block_type, exercise in selectors.lesson_exercises(lesson):
        answers = lab_answers_for(exercise) if answered else {}
        if block_type == "cohort_lab":
            cohort_run_finished(exercise=exercise, user=user, lesson=lesson, answers=answers)
        else:
            LabRun.objects.create(
                exercise=exercise,
                user=user,
                lesson=lesson,
                status=LabRunStatus.SUCCEEDED,
                answers=answers,
            )


def _orm_rows(user, lesson_ids, families) -> list[tuple]:
    query = selectors._progress_query(user_pk=user.pk, lesson_ids=lesson_ids, families=families)
    return sorted(query, key=repr)


def test_planned_progress_rows_are_the_orms_for_each_reader(lesson_with_two_families):
    course, lesson = lesson_with_two_families
    families = {block_type for block_type, _ in selectors.lesson_exercises(lesson)}
    assert families == {"lab", "cohort_lab"}
    done, half, none = (UserFactory(role=Role.RESIDENT) for _ in range(3))
    for user in (done, half, none):
        enrolment_create(user=user, course=course)
    _work_done(lesson, done, answered=True)
    _work_done(lesson, half, answered=False)
    lesson_completion_record(user=half, lesson=lesson, source=CompletionSource.MANUAL)
    # Two lessons: the progress page's shape (the second is one nobody has rows in).
    other_lesson_pk = LessonPage.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1
    for user in (done, half, none):
        for lesson_ids in ([lesson.pk], [other_lesson_pk, lesson.pk]):
            planned = selectors._progress_rows(user=user, lesson_ids=lesson_ids, families=families)
            assert sorted(map(tuple, planned), key=repr) == _orm_rows(user, lesson_ids, families)
    planned = selectors._progress_rows(user=done, lesson_ids=[lesson.pk], families=families)
    # Each reader sees only their own rows; answers come back as the ORM reads them.
    assert {row[0] for row in planned} == families
    assert all(isinstance(row[5], dict) and row[5] for row in planned)
    assert selectors._progress_rows(user=none, lesson_ids=[lesson.pk], families=families) == []
    assert len(selectors._progress_plans) == 2  # one lesson, two lessons
    assert all(plan is not None for plan in selectors._progress_plans.values())
    # And the rule on top of them: only the resident who answered completed the lesson.
    assert [selectors.lesson_is_completed(user=u, lesson=lesson) for u in (done, half, none)] == [
        True,
        False,
        False,
    ]


def test_the_next_reader_runs_the_plan_without_compiling_it(lesson_with_two_families, monkeypatch):
    _course, lesson = lesson_with_two_families
    families = {block_type for block_type, _ in selectors.lesson_exercises(lesson)}
    first, second = UserFactory(role=Role.RESIDENT), UserFactory(role=Role.RESIDENT)
    _work_done(lesson, second, answered=True)
    selectors._progress_rows(user=first, lesson_ids=[lesson.pk], families=families)
    compiled = []
    original = selectors._progress_plan_compile
    monkeypatch.setattr(
        selectors,
        "_progress_plan_compile",
        lambda *args: compiled.append(args) or original(*args),
    )
    with CaptureQueriesContext(connection) as queries:
        rows = selectors._progress_rows(user=second, lesson_ids=[lesson.pk], families=families)
    assert compiled == [] and len(queries) == 1
    assert len(rows) == len(selectors.lesson_exercises(lesson))


def test_values_a_plan_cannot_take_are_read_by_the_orm(lesson_with_two_families):
    """A slot compiled from an int takes ints only: a lesson id given as text (or no lesson
    at all) is answered by the ORM, as before plans."""
    _course, lesson = lesson_with_two_families
    user = UserFactory(role=Role.RESIDENT)
    _work_done(lesson, user, answered=True)
    families = {"lab"}
    plan = selectors._progress_plans.get(
        (("lab",), 1), lambda: selectors._progress_plan_compile(families, 1)
    )
    assert plan.takes({"lesson 0": lesson.pk, "user": user.pk})
    assert not plan.takes({"lesson 0": str(lesson.pk), "user": user.pk})
    assert not plan.takes({"lesson 0": True, "user": user.pk})
    with pytest.raises(ValueError):
        plan.rows({"lesson 0": str(lesson.pk), "user": user.pk})
    as_text = selectors._progress_rows(user=user, lesson_ids=[str(lesson.pk)], families=families)
    assert sorted(map(tuple, as_text), key=repr) == _orm_rows(user, [lesson.pk], families)
    assert len(as_text) == len([b for b, _ in selectors.lesson_exercises(lesson) if b == "lab"])
    assert selectors._progress_rows(user=user, lesson_ids=[], families=families) == []
