"""A resident works through a lesson in Chromium: open, mark complete, move on, see progress."""

from __future__ import annotations

import pytest

from accounts.services import enrolment_create
from curriculum.services import curriculum_content_load
from tests.browser.session import log_in, nav_follow
from tests.factories import TEST_PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_resident_works_through_a_lesson(live_server, people, browser_page):
    course, _report = curriculum_content_load(
        only_lessons={
            "where-ai-fails/when-noise-breaks-a-model",
            "where-ai-fails/domain-shift-and-shortcuts",
        }
    )
    resident = people["resident"]
    resident.set_password(TEST_PASSWORD)
    resident.save()
    enrolment_create(user=resident, course=course)
    page = browser_page
    log_in(page, live_server.url, resident.username)

    page.goto(live_server.url + course.url)
    page.get_by_role("link", name="When noise breaks a model").first.click()
    assert page.get_by_role("heading", name="When noise breaks a model").is_visible()
    # Keyboard only: tab to the button and press Enter.
    button = page.get_by_role("button", name="Mark complete")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name="Domain shift and shortcut learning").is_visible()
    nav_follow(page, "Learn", "My progress")
    assert page.get_by_text("1 of 2 lessons").first.is_visible()
