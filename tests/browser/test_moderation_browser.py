"""Issue 17 item 6 in Chromium: double marking with the accounts a small programme has. Two
examiners mark an essay far apart; the programme admin, who marked neither, moderates. The
moderator reads the two marks as Marker A and Marker B (never a name, never both as "Other
examiner's mark") and sets the agreed mark."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Role
from grading import services
from grading.models import MarkingState, ResponseMarking
from tests.browser.axe_support import axe_violations, blocking_violations, violations_describe
from tests.browser.session import log_in
from tests.factories import UserFactory
from tests.grading_tests.builders import essay_exam, finished_attempt, levels

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_moderates_two_examiners_marks_labelled_by_marker_code(
    live_server, people, browser_page, screenshot_dir
):
    exam = essay_exam()
    _attempt, essay = finished_attempt(
        exam, people["resident"], text="Noise moved the logits.", auto_score=3.0
    )
    second = UserFactory(username="erin", role=Role.EXAMINER)
    services.mark_submit(response=essay, examiner=people["examiner"], levels=levels(1, 3))
    services.mark_submit(response=essay, examiner=second, levels=levels(4, 5))
    assert ResponseMarking.objects.get(response=essay).state == MarkingState.MODERATION

    page = browser_page
    log_in(page, live_server.url, people["admin"].username)
    page.goto(live_server.url + reverse("grading:response_mark", args=[essay.pk]))
    main = page.locator("main")
    expect(main).to_contain_text("Marker A")
    expect(main).to_contain_text("Marker B")
    assert "Other examiner's mark" not in main.inner_text()
    assert "erin" not in main.inner_text()
    assert people["examiner"].username not in main.inner_text()
    page.screenshot(path=screenshot_dir / "1-moderator-sees-marker-codes-1280.png", full_page=True)
    blocking = blocking_violations(axe_violations(page))
    assert not blocking, violations_describe(blocking)

    moderation = page.locator("section", has=page.get_by_role("heading", name="Moderate"))
    moderation.locator("[name=points]").fill("12.5")
    moderation.locator("[name=reason]").fill("Between the two: mechanism right, dose missing.")
    moderation.get_by_role("button", name="Set the agreed mark").click()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=screenshot_dir / "2-agreed-1280.png", full_page=True)
    marking = ResponseMarking.objects.get(response=essay)
    assert marking.state != MarkingState.MODERATION
    assert marking.agreed_points == 12.5
