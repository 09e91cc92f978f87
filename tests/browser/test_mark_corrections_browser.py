"""Issue 17 item 1 in Chromium: after the shared-mark repair, the resident whose released
exam was scored again is told on "My grades" and on the attempt's feedback page which
question changed, from what to what, when and why."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from assessments import services
from tests.assessments_tests import test_shared_marks_repair as repair_tests
from tests.assessments_tests.test_shared_marks_repair import (
    SPLEEN_SLICE,
    _answers,
    _finished,
    _stored_twice,
)
from tests.browser.axe_support import axe_violations, blocking_violations, violations_describe
from tests.browser.session import log_in

one_series_exam = repair_tests.one_series_exam

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_resident_reads_the_correction_on_my_grades(
    live_server,
    people,
    one_series_exam,
    browser_page,
    screenshot_dir,
):
    attempt = services.attempt_start(assessment=one_series_exam, user=people["resident"])
    _stored_twice(
        attempt,
        slice_number=SPLEEN_SLICE,
        points={"Click the spleen": 2.0, "The heart's largest slice": 1.0},
    )
    _finished(attempt, total=4.0)
    services.assessment_results_release(assessment=one_series_exam)
    out = io.StringIO()
    call_command("answers_shared_marks_repair", stdout=out)
    assert "Corrections recorded for candidates: 1." in out.getvalue()
    heart_number = _answers(attempt)["The heart's largest slice"].position + 1

    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.goto(live_server.url + reverse("grading:my_grades"))
    notice = page.locator("[data-mark-corrections]")
    expect(notice).to_contain_text(
        f"One-series exam (attempt 1), question {heart_number}: 1 → 0 points"
    )
    expect(notice).to_contain_text("placed for another question on the same images")
    expect(page.locator("[data-result]").first).to_contain_text("3")
    page.screenshot(path=screenshot_dir / "1-my-grades-1280.png", full_page=True)
    blocking = blocking_violations(axe_violations(page))
    assert not blocking, violations_describe(blocking)

    page.get_by_role("link", name="One-series exam").click()
    expect(page.locator("[data-mark-corrections]")).to_contain_text(f"question {heart_number}")
    page.screenshot(path=screenshot_dir / "2-feedback-1280.png", full_page=True)
