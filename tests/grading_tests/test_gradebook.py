"""Gradebook arithmetic by hand, overrides with reasons (audited), cohorts, CSV, and who
sees whose grades."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from accounts.services import cohort_ensure, enrolment_create
from assessments.models import Assessment, AssessmentKind
from curriculum.selectors import course_lab_work
from grading import selectors, services
from grading.models import AuditAction, AuditEntry, GradebookCategory, GradeOverride
from tests.grading_tests.builders import (
    auto_only_attempt,
    course_with_lessons,
    essay_exam,
    finished_attempt,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(people):
    """Quizzes 20 %, exams 50 %, lab reports 30 %; the resident's work:

    quiz A 4/5 = 80 %; quiz B 3/5 = 60 % (a later 2/5 = 40 % does not replace the best);
    exam: 3/5 auto + 12/20 essay released = 15/25 = 60 %; lab report: marked, not released.
    """
    course = course_with_lessons()["course"]
    for who in ("resident", "outsider"):
        enrolment_create(user=people[who], course=course)
    resident = people["resident"]
    quiz_a = Assessment.objects.create(title="Quiz A", kind=AssessmentKind.QUIZ, course=course)
    quiz_b = Assessment.objects.create(title="Quiz B", kind=AssessmentKind.QUIZ, course=course)
    auto_only_attempt(quiz_a, resident, score=4, max_points=5, title="qa")
    auto_only_attempt(quiz_b, resident, score=3, max_points=5, title="qb1")
    auto_only_attempt(quiz_b, resident, score=2, max_points=5, title="qb2")
    exam = essay_exam(course=course, title="Exam", double=False, with_rubric=False, released=True)
    _attempt, essay = finished_attempt(exam, resident, text="Essay", auto_score=3.0)
    services.mark_submit(response=essay, examiner=people["examiner"], points=12)
    services.marking_release(response=essay, by=people["examiner"])
    lab = essay_exam(
        course=course, title="Lab report", double=False, with_rubric=False, kind=AssessmentKind.QUIZ
    )
    _attempt, report = finished_attempt(lab, resident, text="Report", auto_score=5.0)
    services.mark_submit(response=report, examiner=people["examiner"], points=20)
    categories = {}
    for name, weight, assessments in [
        ("Quizzes", 20, [quiz_a, quiz_b]),
        ("Exams", 50, [exam["assessment"]]),
        ("Lab reports", 30, [lab["assessment"]]),
    ]:
        category = GradebookCategory.objects.create(course=course, name=name, weight=weight)
        category.assessments.set(assessments)
        categories[name] = category
    return {"course": course, "lab": lab["assessment"], "exam": exam["assessment"]}


def test_weighted_grades_by_hand(book, people):
    row = selectors.resident_grades(user=people["resident"], course=book["course"])
    by_name = {each.category.name: each for each in row.categories}
    assert [g.percent for g in by_name["Quizzes"].grades] == [80.0, 60.0]
    assert by_name["Quizzes"].percent == 70.0  # (80 + 60) / 2
    assert by_name["Exams"].percent == 60.0  # (3 + 12) / 25
    assert by_name["Lab reports"].percent is None  # marked but not released
    # Weights renormalised over graded categories: (20·70 + 50·60) / 70 = 4400 / 70
    assert row.percent == 62.86
    assert not row.is_final
    # Nothing final for the outsider.
    assert selectors.resident_grades(user=people["outsider"], course=book["course"]).percent is None


def test_an_override_replaces_the_grade_with_a_reason_and_is_audited(book, people):
    services.grade_override_set(
        resident=people["resident"],
        assessment=book["lab"],
        percent=90,
        reason="Report accepted late after illness.",
        by=people["educator"],
    )
    row = selectors.resident_grades(user=people["resident"], course=book["course"])
    # (20·70 + 50·60 + 30·90) / 100 = (1400 + 3000 + 2700) / 100
    assert row.percent == 71.0
    assert row.is_final
    entry = AuditEntry.objects.get(action=AuditAction.OVERRIDE)
    assert (entry.actor, entry.resident) == (people["educator"], people["resident"])
    assert (entry.before["percent"], entry.after["percent"]) == (None, 90.0)
    assert entry.reason == "Report accepted late after illness."
    # A newer override wins; the older stays as history.
    services.grade_override_set(
        resident=people["resident"],
        assessment=book["lab"],
        percent=80,
        reason="Corrected.",
        by=people["admin"],
    )
    assert selectors.resident_grades(user=people["resident"], course=book["course"]).percent == 68.0
    assert GradeOverride.objects.count() == 2


def test_override_form_refuses_bad_input_and_wrong_roles(client, book, people):
    url = reverse("grading:grade_override", args=[book["course"].pk])
    data = {
        "resident": people["resident"].pk,
        "assessment": book["lab"].pk,
        "percent": "150",
        "reason": "x",
    }
    client.force_login(people["educator"])
    response = client.post(url, data, follow=True)
    assert "between 0 and 100" in response.content.decode()
    assert not GradeOverride.objects.exists()
    client.force_login(people["examiner"])
    assert client.post(url, {**data, "percent": "90"}).status_code == 403
    client.force_login(people["educator"])
    client.post(url, {**data, "percent": "90"})
    assert GradeOverride.objects.get().percent == 90.0


def test_csv_export(client, book, people):
    services.grade_override_set(
        resident=people["resident"],
        assessment=book["lab"],
        percent=90,
        reason="Late.",
        by=people["admin"],
    )
    client.force_login(people["examiner"])
    response = client.get(reverse("grading:gradebook_csv", args=[book["course"].pk]))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "username",
        "name",
        "Exams: Exam (%)",
        "Exams (%, weight 50)",
        "Lab reports: Lab report (%)",
        "Lab reports (%, weight 30)",
        "Quizzes: Quiz A (%)",
        "Quizzes: Quiz B (%)",
        "Quizzes (%, weight 20)",
        "course (%)",
        "labs finished",
        "labs in the course",
    ]
    by_user = {row[0]: row for row in rows[1:]}
    # Lab work is counted beside the grades (curriculum.selectors.course_lab_work).
    labs = course_lab_work(user=people["resident"], course=book["course"])
    assert by_user[people["resident"].username][-2:] == [str(labs.done), str(labs.total)]
    resident = people["resident"]
    assert by_user[resident.username] == [
        resident.username,
        resident.get_full_name(),
        "60.00",
        "60.00",
        "90.00",
        "90.00",
        "80.00",
        "60.00",
        "70.00",
        "71.00",
        str(labs.done),
        str(labs.total),
    ]
    assert by_user[people["outsider"].username][2:-2] == [""] * 8


def test_cohort_view_lists_only_the_cohort(client, book, people):
    cohort = cohort_ensure(
        name="Night shift", courses=[book["course"]], members=[people["outsider"]]
    )
    client.force_login(people["educator"])
    response = client.get(
        reverse("grading:gradebook", args=[book["course"].pk]), {"cohort": cohort.pk}
    )
    assert [row.resident for row in response.context["rows"]] == [people["outsider"]]


def test_a_resident_sees_only_their_own_grades(client, book, people):
    own = reverse("grading:gradebook_resident", args=[book["course"].pk, people["resident"].pk])
    client.force_login(people["resident"])
    page = client.get(own)
    assert page.status_code == 200
    assert "62.86" in page.content.decode()
    assert client.get(reverse("grading:gradebook", args=[book["course"].pk])).status_code == 403
    assert client.get(reverse("grading:gradebook_csv", args=[book["course"].pk])).status_code == 403
    client.force_login(people["outsider"])
    assert client.get(own).status_code == 404
