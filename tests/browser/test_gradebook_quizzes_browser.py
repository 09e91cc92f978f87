"""Issue 17 item 5 in Chromium: the gradebook counts what the course counts. A module quiz the
resident passed appears in the gradebook's Quizzes category with its percentage (not "—"),
as the educator reads the resident's gradebook page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from assessments import services as assessment_services
from assessments.demo import assessments_demo_ensure
from grading.demo import grading_demo_ensure
from tests.assessments_tests.builders import choice_question, quiz
from tests.browser.axe_support import axe_violations, blocking_violations, violations_describe
from tests.browser.session import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_educator_reads_a_passed_module_quiz_in_the_quizzes_category(
    live_server, people, demo_lesson, browser_page, screenshot_dir
):
    course = demo_lesson.get_parent().get_parent()
    demo = assessments_demo_ensure(course=course, module=demo_lesson.get_parent().specific)
    module_quiz = quiz(
        [choice_question("Module window?")], course=course.specific, title="Module quiz"
    )
    grading_demo_ensure(course=course, exam=demo.exam, quiz=demo.quiz)
    resident = people["resident"]
    attempt = assessment_services.attempt_start(assessment=module_quiz, user=resident)
    assessment_services.response_save(attempt=attempt, position=0, form={"choice": ["1"]})
    assessment_services.attempt_submit(attempt=attempt)

    page = browser_page
    log_in(page, live_server.url, people["educator"].username)
    page.goto(
        live_server.url + reverse("grading:gradebook_resident", args=[course.pk, resident.pk])
    )
    quizzes = page.locator("table", has=page.locator("caption", has_text="Quizzes"))
    row = quizzes.locator("tr", has=page.get_by_role("rowheader", name="Module quiz"))
    expect(row.locator("td").first).to_have_text("100.00")
    page.screenshot(path=screenshot_dir / "1-gradebook-quizzes-1280.png", full_page=True)
    blocking = blocking_violations(axe_violations(page))
    assert not blocking, violations_describe(blocking)
