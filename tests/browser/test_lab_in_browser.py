"""A resident runs the break-it lab in Chromium, through the live server and a real worker."""

import pytest
from playwright.sync_api import expect

from labs.models import LabRun, LabRunStatus
from tests.browser.session import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_resident_runs_the_lab_and_sees_the_result(
    live_server, celery_worker, demo_lesson, people, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.locator(".account-menu summary").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.goto(live_server.url + demo_lesson.url)
    expect(page.get_by_role("heading", name="When noise breaks a model")).to_be_visible()
    # The lab is the reader's own part of the lesson, fetched after the page.
    expect(page.get_by_role("button", name="Run the lab")).to_be_visible()
    page.screenshot(path=screenshot_dir / "1-lesson.png", full_page=True)

    page.get_by_label("Gaussian noise").fill("180")
    page.get_by_role("button", name="Run the lab").click()
    page.wait_for_url("**/labs/runs/*/")
    page.screenshot(path=screenshot_dir / "2-progress.png", full_page=True)

    # htmx polls the status fragment; the result replaces the progress bar when done.
    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=90_000)
    images = page.locator(".image-grid img")
    assert images.count() == 4
    # The fragment arrives before its four images have downloaded (slowly, on a busy
    # machine); a resident looks once they have, and so does the test.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.image-grid img')].every(img => img.complete)"
    )
    for index in range(4):
        assert images.nth(index).evaluate("img => img.complete && img.naturalWidth") >= 128
    expect(page.get_by_role("rowheader", name="pixels relabelled (%)")).to_be_visible()
    page.screenshot(path=screenshot_dir / "3-result.png", full_page=True)

    run = LabRun.objects.get(user=people["resident"])
    assert run.status == LabRunStatus.SUCCEEDED
    assert run.parameters["severity"] == 180.0


def test_outsider_is_told_they_are_not_enrolled(
    live_server, demo_lesson, people, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["outsider"].username)
    response = page.goto(live_server.url + demo_lesson.url)
    assert response.status == 403
    expect(page.get_by_role("heading", name="You cannot open this page")).to_be_visible()
    expect(page.get_by_text("not enrolled")).to_be_visible()
    page.screenshot(path=screenshot_dir / "forbidden.png", full_page=True)
