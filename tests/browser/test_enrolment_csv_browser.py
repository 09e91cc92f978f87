"""Issue 17 item 6 in Chromium: a programme admin enrols residents from a CSV. A file with a
bad row is previewed with each problem on its line and changes nothing; the fixed file is
previewed, confirmed, and every row is enrolled."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import Cohort, Enrolment, Role
from tests.browser.axe_support import axe_violations, blocking_violations, violations_describe
from tests.browser.session import log_in, nav_follow
from tests.factories import UserFactory
from tests.grading_tests.builders import course_with_lessons

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _axe_clean(page) -> None:
    blocking = blocking_violations(axe_violations(page))
    assert not blocking, violations_describe(blocking)


def _choose(page, content: str) -> None:
    page.get_by_label("CSV file").set_input_files(
        {"name": "residents.csv", "mimeType": "text/csv", "buffer": content.encode()}
    )
    page.get_by_role("button", name="Preview").click()


def test_admin_previews_a_csv_fixes_it_and_enrols_everyone(
    live_server, people, browser_page, screenshot_dir
):
    course = course_with_lessons()["course"]
    cohort = Cohort.objects.create(name="Residents 2026")
    lee = UserFactory(username="lee", email="lee@example.org", role=Role.RESIDENT)
    page = browser_page
    log_in(page, live_server.url, people["admin"].username)
    nav_follow(page, "Admin", "Enrol from a CSV")
    expect(page.get_by_role("heading", name="Enrol residents from a CSV")).to_be_visible()

    _choose(
        page,
        "user,course,cohort\n"
        "rhea,failures,Residents 2026\n"
        "lee@example.org,Imaging AI failures,\n"
        '=HYPERLINK("http://evil.invalid"),failures,\n'
        "edda,failures,\n",
    )
    expect(page.locator("[data-import-problems]")).to_have_attribute("data-import-problems", "2")
    bad = page.locator("tr[data-problem]")
    expect(bad).to_have_count(2)
    expect(bad.first).to_contain_text('=HYPERLINK("http://evil.invalid")')
    expect(bad.nth(1)).to_contain_text("not a resident")
    expect(page.get_by_role("button", name="Enrol them")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "1-problems-1280.png", full_page=True)
    _axe_clean(page)
    assert not Enrolment.objects.filter(course=course).exists()

    _choose(page, "user,course,cohort\nrhea,failures,Residents 2026\nlee@example.org,failures,\n")
    expect(page.locator("[data-import-preview]")).to_contain_text("2 new course enrolments")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=screenshot_dir / "2-preview-390.png", full_page=True)
    _axe_clean(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not Enrolment.objects.filter(course=course).exists()

    page.get_by_role("button", name="Enrol them").click()
    expect(page.locator(".messages")).to_contain_text(
        "2 new course enrolments, 1 new cohort membership"
    )
    page.screenshot(path=screenshot_dir / "3-enrolled-1280.png", full_page=True)
    enrolled = set(Enrolment.objects.filter(course=course).values_list("user_id", flat=True))
    assert enrolled == {people["resident"].pk, lee.pk}
    assert list(cohort.members.all()) == [people["resident"]]
