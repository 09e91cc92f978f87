"""The header's language switch in Chromium: without scripts on the login page, and on a
lesson of module 1, which then reads in German with its lab (screenshots kept)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.services import enrolment_create
from curriculum.models import LessonPage
from curriculum.services import curriculum_content_load
from curriculum.translation import curriculum_translations_load
from tests.browser.session import log_in
from tests.factories import people_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_switching_to_german_and_back(live_server, browser_page, screenshot_dir):
    people = people_create()
    course, _report = curriculum_content_load(
        only_lessons={"dicom-and-the-information-model/reading-a-header"}
    )
    lesson = LessonPage.objects.get(slug="reading-a-header")
    curriculum_translations_load()
    enrolment_create(user=people["resident"], course=course)

    # Without scripts: the switch is a plain form, and the page comes back in German.
    no_script = browser_page.context.browser.new_context(java_script_enabled=False)
    try:
        page = no_script.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_role("button", name="Deutsch").click()
        page.get_by_role("button", name="Anmelden").wait_for()
        assert page.locator("html").get_attribute("lang") == "de"
        assert page.get_by_role("button", name="Deutsch").get_attribute("aria-pressed") == "true"
        page.screenshot(path=screenshot_dir / "01-login-german-no-script.png", full_page=True)
    finally:
        no_script.close()

    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.goto(f"{live_server.url}{lesson.url}")
    page.get_by_role("heading", name="Reading a DICOM header", exact=False).first.wait_for()
    page.get_by_role("button", name="Deutsch").click()
    page.get_by_role("heading", name="Einen DICOM-Header lesen", exact=False).first.wait_for()
    assert page.url == f"{live_server.url}{lesson.url}"  # the same page, now in German
    expect(page.get_by_role("button", name="Labor ausführen").first).to_be_visible()
    page.screenshot(path=screenshot_dir / "02-lesson-german.png", full_page=False)

    # The choice is remembered: a new visit of another page stays German, until switched back.
    page.goto(f"{live_server.url}/learn/progress/")
    assert page.locator("html").get_attribute("lang") == "de"
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
