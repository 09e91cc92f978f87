"""The demo set-up leaves the demo examiner something to mark."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.services import enrolment_create
from assessments.demo import assessments_demo_ensure
from grading.demo import CANDIDATE_USERNAME, grading_demo_ensure
from grading.models import GradebookCategory, Rubric

pytestmark = pytest.mark.django_db


def test_demo_examiner_has_an_essay_in_the_queue(client, demo_lesson, people):
    # As demo_setup passes it: the plain Page, not the specific CurriculumPage.
    course = demo_lesson.get_parent().get_parent()
    demo = assessments_demo_ensure(course=course, module=demo_lesson.get_parent().specific)
    for _run in range(2):  # idempotent
        line = grading_demo_ensure(course=course, exam=demo.exam, quiz=demo.quiz)
    assert "grading queue" in line
    assert Rubric.objects.count() == 1
    assert GradebookCategory.objects.filter(course=course).count() == 2
    client.force_login(people["examiner"])
    rows = client.get(reverse("grading:queue"), {"state": "unmarked"}).context["rows"]
    assert len(rows) == 1
    page = client.get(reverse("grading:response_mark", args=[rows[0].response.pk]))
    html = page.content.decode()
    assert "different" in html or "scanner" in html  # the candidate's essay
    assert CANDIDATE_USERNAME not in html and "Demo Candidate" not in html
    assert "Mechanism" in html  # the rubric


def test_the_quiz_category_counts_the_module_quizzes(client, demo_lesson, people):
    """A module quiz the resident passed in a lesson shows its percentage in the gradebook."""
    from assessments import services as assessment_services
    from tests.assessments_tests.builders import choice_question, quiz

    course = demo_lesson.get_parent().get_parent()
    demo = assessments_demo_ensure(course=course, module=demo_lesson.get_parent().specific)
    module_quiz = quiz(
        [choice_question("Module window?")], course=course.specific, title="Module quiz"
    )
    grading_demo_ensure(course=course, exam=demo.exam, quiz=demo.quiz)
    quizzes = GradebookCategory.objects.get(course=course, name="Quizzes")
    assert {demo.quiz.pk, module_quiz.pk} <= set(quizzes.assessments.values_list("pk", flat=True))

    resident = people["resident"]
    enrolment_create(user=resident, course=course.specific)
    attempt = assessment_services.attempt_start(assessment=module_quiz, user=resident)
    assessment_services.response_save(attempt=attempt, position=0, form={"choice": ["1"]})
    assessment_services.attempt_submit(attempt=attempt)
    client.force_login(people["educator"])
    page = client.get(reverse("grading:gradebook_resident", args=[course.pk, resident.pk]))
    grades = {
        grade.assessment.title: grade.percent
        for row in page.context["row"].categories
        for grade in row.grades
    }
    assert grades["Module quiz"] == 100
