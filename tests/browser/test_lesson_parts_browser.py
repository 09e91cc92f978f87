"""A lesson's own parts for its reader (lab, viewer, completion) arrive after the page in
Chromium: the lab can be used, the viewer draws, and a failed fetch says so in place."""

import pytest
from playwright.sync_api import expect

from tests.browser import viewer_support
from tests.browser.session import log_in
from tests.browser.viewer_support import viewer_open, viewport_pixels

# Fixtures shared by the viewer's browser tests.
viewer_library_build = viewer_support.viewer_library_build
viewer_studies = viewer_support.viewer_studies

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lesson_with_viewer(demo_lesson, viewer_studies):
    """The demo lesson (prose, lab, references) with a CT viewer added at its end, the
    study shown to the lesson's course."""
    ct = viewer_studies["chest-ct"]
    ct.courses.add(demo_lesson.get_parent().get_parent())
    ct_series = ct.series.get(modality="CT")
    demo_lesson.body.append(
        (
            "viewer",
            {
                "series": ct_series.series_instance_uid,
                "initial_slice": 60,
                "window_preset": "lung",
                "overlays": [],
                "caption": "Chest CT, lung window",
            },
        )
    )
    demo_lesson.save_revision().publish()
    return demo_lesson


def test_the_lab_viewer_and_completion_arrive_after_the_page(
    live_server, people, lesson_with_viewer, browser_page, screenshot_dir
):
    page = browser_page
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    parts_requests = []
    page.on("request", lambda request: "reader-parts" in request.url and parts_requests.append(1))
    log_in(page, live_server.url, people["resident"].username)

    viewer = viewer_open(page, live_server.url + lesson_with_viewer.url)
    assert viewer.get_attribute("data-state") == "ready", viewer.locator(
        ".viewer-message"
    ).first.text_content()
    assert viewport_pixels(viewer, screenshot_dir / "viewer.png").std() > 20
    expect(page.get_by_role("button", name="Run the lab")).to_be_visible()
    expect(page.get_by_label("Gaussian noise")).to_be_editable()
    expect(page.locator("[data-reader-part-pending]")).to_have_count(0)
    expect(page.get_by_label("Lesson completion")).to_contain_text("complete once each of its labs")
    page.screenshot(path=screenshot_dir / "1-lesson-with-its-parts.png", full_page=True)
    assert len(parts_requests) == 1 and not errors, errors


def test_parts_that_cannot_be_fetched_say_so(
    live_server, people, demo_lesson, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.route("**/reader-parts/", lambda route: route.fulfill(status=503, body="down"))
    page.goto(live_server.url + demo_lesson.url)
    expect(page.get_by_role("heading", name="When noise breaks a model")).to_be_visible()
    failed = page.get_by_role("alert").filter(has_text="could not be loaded")
    expect(failed.first).to_be_visible()
    expect(page.locator("[aria-busy=true]")).to_have_count(0)
    expect(page.get_by_role("button", name="Run the lab")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "parts-failed.png", full_page=True)
