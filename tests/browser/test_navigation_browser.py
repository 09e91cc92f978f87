"""The header's navigation in Chromium (issue 17 item 7): grouped into disclosure menus that
fit one row at 1280 px, folded behind a "Menu" button at 390 px, usable by keyboard, still
usable with scripts off, and clean under axe-core in every state a person can put it in."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.axe_support import axe_violations, blocking_violations, violations_describe
from tests.browser.session import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}


def _summaries(page) -> list[str]:
    nav = page.get_by_role("navigation", name="Main")
    return [text.strip() for text in nav.locator("summary").all_inner_texts()]


def _no_blocking_axe(page) -> None:
    blocking = blocking_violations(axe_violations(page))
    assert not blocking, violations_describe(blocking)


def _fits_across(page, width: int) -> None:
    """Nothing runs off the right edge of the screen."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # Measured in one pass inside the page: a locator list taken first and measured item
    # by item waits on elements that a group folding shut has hidden in between.
    right_edges = page.evaluate(
        """() => [...document.querySelectorAll('.site-header *')]
            .map((el) => el.getBoundingClientRect())
            .filter((box) => box.width > 0 && box.height > 0)
            .map((box) => box.right)"""
    )
    assert right_edges, "the header has no visible parts"
    assert max(right_edges) <= width + 0.5


@pytest.mark.parametrize(
    ("who", "groups"),
    [
        ("resident", ["Learn", "Labs", "Assess"]),
        ("examiner", ["Learn", "Labs", "Assess"]),
        ("educator", ["Learn", "Labs", "Assess", "Teach"]),
        ("admin", ["Learn", "Labs", "Assess", "Teach", "Admin"]),
    ],
)
def test_wide_screen_groups_fit_one_row_and_open_by_keyboard(
    who, groups, live_server, people, browser_page, screenshot_dir
):
    page = browser_page
    page.set_viewport_size(WIDE)
    log_in(page, live_server.url, people[who].username)
    page.goto(live_server.url + "/labs/runs/")
    assert _summaries(page) == groups
    # One row: the brand, every group and the account menu share a line.
    header = page.locator(".site-header").bounding_box()
    assert header["height"] < 70
    expect(page.locator(".nav-toggle")).to_be_hidden()
    # The page shown is marked in its group.
    assert page.locator("details.nav-group.current summary").inner_text().strip() == "Labs"

    nav = page.get_by_role("navigation", name="Main")
    labs = nav.locator("summary", has_text="Labs")
    expect(nav.get_by_role("link", name="Build a model")).not_to_be_visible()
    labs.focus()
    page.keyboard.press("Enter")
    expect(nav.get_by_role("link", name="Build a model")).to_be_visible()
    assert nav.get_by_role("link", name="My lab runs").get_attribute("aria-current") == "page"
    page.keyboard.press("Tab")  # into the open menu
    assert page.evaluate("document.activeElement.textContent") == "My lab runs"
    page.screenshot(path=screenshot_dir / f"1-{who}-labs-open-1280.png")
    _no_blocking_axe(page)

    # Opening another group closes the first; Escape closes it and gives focus back.
    nav.locator("summary", has_text="Assess").click()
    expect(nav.get_by_role("link", name="My grades")).to_be_visible()
    expect(nav.get_by_role("link", name="Build a model")).not_to_be_visible()
    page.keyboard.press("Escape")
    expect(nav.get_by_role("link", name="My grades")).not_to_be_visible()
    assert page.evaluate("document.activeElement.textContent").startswith("Assess")
    if who == "admin":
        nav.locator("summary", has_text="Admin").click()
        nav.get_by_role("link", name="Audit log").click()
        page.wait_for_url("**/grading/audit/**")
        page.screenshot(path=screenshot_dir / "2-admin-audit-1280.png")

    # The account menu: name, role, password and log out.
    page.locator(".account-menu summary").click()
    page.screenshot(path=screenshot_dir / f"3-{who}-account-1280.png")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(live_server.url + "/")
    page.goto(live_server.url + "/accounts/login/")
    expect(page.locator(".site-header").get_by_role("link", name="Log in")).to_be_visible()
    assert page.locator(".account-menu").count() == 0


def test_narrow_screen_menu_button(live_server, people, browser_page, screenshot_dir):
    page = browser_page
    page.set_viewport_size(NARROW)
    log_in(page, live_server.url, people["admin"].username)
    page.goto(live_server.url + "/labs/runs/")
    toggle = page.get_by_role("button", name="Menu")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    _fits_across(page, NARROW["width"])
    page.screenshot(path=screenshot_dir / "1-closed-390.png")

    # By keyboard: Tab from the brand to the button, open, and walk into a group.
    page.locator(".brand").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "nav-toggle"
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    nav = page.get_by_role("navigation", name="Main")
    assert _summaries(page) == ["Learn", "Labs", "Assess", "Teach", "Admin"]
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # opens "Learn"
    expect(nav.get_by_role("link", name="Search lessons")).to_be_visible()
    nav.locator("summary", has_text="Assess").click()
    expect(nav.get_by_role("link", name="My grades")).to_be_visible()
    _fits_across(page, NARROW["width"])
    page.screenshot(path=screenshot_dir / "2-open-assess-390.png", full_page=True)
    _no_blocking_axe(page)
    nav.get_by_role("link", name="My grades").click()
    page.wait_for_url("**/grading/mine/")
    assert page.get_by_role("button", name="Menu").get_attribute("aria-expanded") == "false"

    # Escape folds the menu away again and gives focus back to the button.
    toggle.click()
    page.locator(".account-menu summary").focus()
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.className") == "nav-toggle"


def test_visitor_and_no_script(live_server, people, chromium, screenshot_dir):
    """A visitor sees one link and "Log in"; with scripts off, a narrow screen shows the
    menu open (there is no button to press) and the groups still open and close."""
    browser, loop = chromium
    with loop.attached():
        context = browser.new_context(viewport=NARROW, java_script_enabled=False)
        try:
            page = context.new_page()
            page.goto(live_server.url + "/accounts/login/")
            nav = page.get_by_role("navigation", name="Main")
            assert nav.get_by_role("link").all_inner_texts() == ["Courses"]
            expect(page.get_by_role("link", name="Log in")).to_be_visible()
            expect(page.get_by_role("button", name="Menu")).to_be_hidden()
            page.screenshot(path=screenshot_dir / "1-visitor-no-script-390.png")

            log_in(page, live_server.url, people["resident"].username)
            page.goto(live_server.url + "/labs/runs/")
            assert _summaries(page) == ["Learn", "Labs", "Assess"]
            nav.locator("summary", has_text="Labs").click()
            expect(nav.get_by_role("link", name="Reading room")).to_be_visible()
            _fits_across(page, NARROW["width"])
            page.screenshot(path=screenshot_dir / "2-resident-no-script-390.png", full_page=True)
            nav.get_by_role("link", name="Reading room").click()
            page.wait_for_url("**/reading-room/**")
        finally:
            context.close()
