"""What a programme admin and an author pick from, in Chromium (issue 17 item 7): the cohort
form's course picker and the enrolment filter list courses only, certificates have a list,
(the study chooser's quarantine rule is tested in test_viewer_block.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from grading.models import Certificate
from tests.browser.session import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_picks_courses_and_finds_certificates(
    live_server, people, demo_lesson, browser_page, screenshot_dir
):
    course = demo_lesson.get_parent().get_parent().specific
    module = demo_lesson.get_parent()
    Certificate.objects.create(
        user=people["resident"],
        course=course,
        code="c0ffee-2026",
        holder_name="Rhea Resident",
        course_title=course.title,
        modules=[{"title": module.title, "outcomes": []}],
    )
    page = browser_page
    log_in(page, live_server.url, people["admin"].username)

    page.goto(live_server.url + reverse("admin:accounts_cohort_add"))
    offered = page.locator("#id_courses_from option").all_inner_texts()
    assert offered == [course.title], offered  # not the module or lesson pages
    page.screenshot(path=screenshot_dir / "1-cohort-course-picker-1280.png", full_page=True)

    page.goto(live_server.url + reverse("admin:accounts_enrolment_changelist"))
    choices = page.locator("#changelist-filter").get_by_role("link").all_inner_texts()
    assert course.title in choices
    assert module.title not in choices and demo_lesson.title not in choices
    page.screenshot(path=screenshot_dir / "2-enrolment-filter-1280.png", full_page=True)

    page.goto(live_server.url + reverse("admin:grading_certificate_changelist"))
    row = page.locator("#result_list tbody tr")
    assert row.count() == 1
    assert "Rhea Resident" in row.inner_text() and "c0ffee-2026" in row.inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=screenshot_dir / "3-certificates-390.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("link", name="Rhea Resident").click()
    assert "c0ffee-2026" in page.locator(".field-code .readonly").inner_text()
    assert page.get_by_role("button", name="Save").count() == 0  # frozen at issue
