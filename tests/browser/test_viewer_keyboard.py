"""The viewer without a mouse (issue 17 item 9): Tab reaches every tool of the toolbar, the
image and the slider, in reading order, each with a visible focus ring; Enter and Space
work the tools; the shortcuts help opens from the keyboard and gives focus back. The ready
viewer, answer tools included, passes axe-core with no serious or critical violation."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser import viewer_support
from tests.browser.axe_support import axe_violations, blocking_violations
from tests.browser.session import log_in
from tests.browser.viewer_support import slice_wait, viewer_open, viewport_pixels

viewer_library_build = viewer_support.viewer_library_build
viewer_studies = viewer_support.viewer_studies

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED = """() => {
  const e = document.activeElement;
  const style = getComputedStyle(e);
  return {
    name: e.dataset.tool || e.dataset.action || e.getAttribute("aria-label")
      || e.className || e.tagName,
    inViewer: !!e.closest("[data-viewer]"),
    ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
  };
}"""

# Each control of the viewer, named as FOCUSED names it, in the order a person reads them:
# the tools, the series, the image, the layers' controls, the slider.
CONTROL_NAMES = """(viewer) => [...viewer.querySelectorAll(
  "button, select, input, .viewer-viewport")]
  .filter((e) => e.offsetParent !== null)
  .map((e) => e.dataset.tool || e.dataset.action || e.getAttribute("aria-label")
    || e.className || e.tagName)"""


def _amber_pixels(png: bytes) -> int:
    """Pixels of the focus ring's colour (#f0a202, frontend/src/styles.css) in a screenshot."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((abs(red - 0xF0) < 24) & (abs(green - 0xA2) < 32) & (blue < 64)).sum())


def _tab_through_viewer(page, limit: int = 80) -> list[dict]:
    """Press Tab from the top of the page until focus has entered the viewer and left it
    again; what held focus inside the viewer, in order."""
    page.locator("body").focus()
    inside: list[dict] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["inViewer"]:
            inside.append(focused)
        elif inside:
            return inside
    raise AssertionError(f"Tab never left the viewer after {limit} presses: {inside}")


def _tab_to(page, name: str) -> None:
    """Tab forward until the control called `name` holds focus."""
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED)["name"] == name:
            return
    raise AssertionError(f"Tab never reached {name}")


def test_viewer_tools_work_from_the_keyboard(
    live_server, people, viewer_studies, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["educator"].username)
    ct = viewer_studies["chest-ct"]
    url = f"{live_server.url}/viewer/{ct.study_instance_uid}/?slice=60&answer=1"
    viewer = viewer_open(page, url)
    assert viewer.get_attribute("data-state") == "ready", viewer.locator(
        ".viewer-message"
    ).text_content()

    blocking = blocking_violations(axe_violations(page))
    assert not blocking, blocking

    # Every tool, the image and the slider are reached by Tab, in reading order, each
    # showing where focus is.
    controls = viewer.evaluate(CONTROL_NAMES)
    image = viewer.locator(".viewer-viewport").get_attribute("aria-label")
    tools = {"pan", "length", "ellipse", "invert", "point", "box", "help", "viewer-slider"}
    assert tools | {image} <= set(controls)
    reached = _tab_through_viewer(page)
    assert [stop["name"] for stop in reached] == controls
    assert all(stop["ring"] for stop in reached), [s["name"] for s in reached if not s["ring"]]

    # Enter picks a tool; Space works a button: the image turns negative.
    page.locator("body").focus()
    _tab_to(page, "pan")
    page.keyboard.press("Enter")
    assert viewer.locator("[data-tool=pan]").get_attribute("aria-pressed") == "true"
    assert viewer.locator("[data-tool=window]").get_attribute("aria-pressed") == "false"
    before = viewport_pixels(viewer, screenshot_dir / "1-before-invert.png")
    _tab_to(page, "invert")
    page.keyboard.press(" ")
    inverted = viewport_pixels(viewer, screenshot_dir / "2-inverted.png")
    assert np.abs(inverted - before).mean() > 20, "Space on Invert did not invert the image"

    # The answer tools too.
    _tab_to(page, "point")
    page.keyboard.press("Enter")
    assert viewer.locator("[data-tool=point]").get_attribute("aria-pressed") == "true"

    # The shortcuts help opens from the keyboard, takes focus, and Escape gives it back.
    _tab_to(page, "help")
    page.keyboard.press("Enter")
    help_panel = viewer.locator(".viewer-help")
    expect(help_panel).to_be_visible()
    page.screenshot(path=screenshot_dir / "3-help-open.png")
    assert page.evaluate("document.activeElement.closest('.viewer-help') !== null")
    page.keyboard.press("Escape")
    expect(help_panel).to_be_hidden()
    assert page.evaluate(FOCUSED)["name"] == image

    # The image, which holds focus again, shows it (the focus ring's amber around the image)
    # and takes the arrow keys: the next image.
    box = viewer.locator(".viewer-stage").bounding_box()
    around = {key: box[key] - 8 for key in ("x", "y")} | {
        key: box[key] + 16 for key in ("width", "height")
    }
    ring = page.screenshot(path=screenshot_dir / "4-image-focused.png", clip=around)
    assert _amber_pixels(ring) > 100, page.evaluate(
        "() => [document.activeElement.matches(':focus-visible'),"
        " getComputedStyle(document.querySelector('.viewer-stage')).outlineStyle]"
    )
    page.keyboard.press("ArrowDown")
    slice_wait(viewer, 61)
