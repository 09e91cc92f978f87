"""The demo set-up leaves the demo examiner something to mark."""

from __future__ import annotations

import pytest
from django.urls import reverse

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
    rows = client.get(reverse("grading:queue")).context["rows"]
    assert len(rows) == 1
    page = client.get(reverse("grading:response_mark", args=[rows[0].response.pk]))
    html = page.content.decode()
    assert "different" in html or "scanner" in html  # the candidate's essay
    assert CANDIDATE_USERNAME not in html and "Demo Candidate" not in html
    assert "Mechanism" in html  # the rubric
