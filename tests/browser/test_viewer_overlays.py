"""Overlays and linked viewers in Chromium: the chest CT's DICOM SEG is drawn over the
images and its visibility toggles pixels; two linked viewers scroll and window together."""

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.browser import viewer_support
from tests.browser.session import log_in
from tests.browser.viewer_support import slice_wait, viewer_open, viewport_pixels

# Fixtures shared by the viewer's browser tests.
viewer_library_build = viewer_support.viewer_library_build
viewer_studies = viewer_support.viewer_studies

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_segmentation_overlay_toggles_pixels(
    live_server, people, viewer_studies, browser_page, screenshot_dir
):
    page = browser_page
    page.on("console", lambda message: print("console:", message.type, message.text))
    log_in(page, live_server.url, people["educator"].username)
    ct = viewer_studies["chest-ct"]
    viewer = viewer_open(
        page, f"{live_server.url}/viewer/{ct.study_instance_uid}/?slice=75&overlays=auto"
    )
    assert viewer.get_attribute("data-state") == "ready"
    # Each SEG layer has its own legend; the teaching SEG's lists the heart.
    heart = viewer.locator(".viewer-legend li", has_text="Heart")
    expect(heart.first).to_be_visible(timeout=60_000)
    layer = viewer.locator("fieldset.viewer-layer", has=page.locator("li", has_text="Heart"))
    shown = viewport_pixels(viewer, screenshot_dir / "1-overlay-shown.png")
    page.screenshot(path=screenshot_dir / "0-page.png", full_page=True)

    layer.get_by_label("Show").uncheck()
    hidden = viewport_pixels(viewer, screenshot_dir / "2-overlay-hidden.png")
    assert np.abs(shown - hidden).mean() > 1, "hiding the overlay did not change the image"

    layer.get_by_label("Show").check()
    layer.locator(".viewer-layer-opacity").fill("100")
    opaque = viewport_pixels(viewer, screenshot_dir / "3-overlay-opaque.png")
    assert np.abs(opaque - hidden).mean() > np.abs(shown - hidden).mean()


def test_linked_viewers_scroll_and_window_together(
    live_server, people, viewer_studies, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["educator"].username)
    ct = viewer_studies["chest-ct"]
    series_uid = ct.series.get(modality="CT").series_instance_uid
    url = f"{live_server.url}/viewer/{ct.study_instance_uid}/?slice=50&compare={series_uid}"
    left = viewer_open(page, url, index=0)
    right = viewer_open(page, url, index=1)
    assert right.get_attribute("data-state") == "ready"
    left.locator(".viewer-viewport").focus()
    for _ in range(10):
        page.keyboard.press("ArrowDown")
    slice_wait(left, 60)
    slice_wait(right, 60)
    left.locator(".viewer-preset").select_option("bone")
    expect(right.locator("[data-corner=bl]")).to_have_text("W 1800 L 400", timeout=30_000)
    # The drop-downs tell the truth on both sides, whichever side was changed.
    expect(right.locator(".viewer-preset")).to_have_value("bone", timeout=30_000)
    right.locator(".viewer-preset").select_option("lung")
    expect(left.locator("[data-corner=bl]")).to_have_text("W 1500 L -600", timeout=30_000)
    expect(left.locator(".viewer-preset")).to_have_value("lung", timeout=30_000)
    # Dragging the window away from the preset says so on both sides.
    box = left.locator(".viewer-viewport").bounding_box()
    page.mouse.move(box["x"] + 200, box["y"] + 200)
    page.mouse.down()
    page.mouse.move(box["x"] + 260, box["y"] + 240, steps=6)
    page.mouse.up()
    expect(left.locator(".viewer-preset")).to_have_value("custom", timeout=30_000)
    expect(right.locator(".viewer-preset")).to_have_value("custom", timeout=30_000)
    assert (
        right.locator("[data-corner=bl]").text_content()
        == left.locator("[data-corner=bl]").text_content()
    )
    page.screenshot(path=screenshot_dir / "side-by-side.png", full_page=True)
