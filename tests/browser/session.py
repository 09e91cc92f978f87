"""Signing in through the real login page, shared by every browser test."""

from tests.factories import TEST_PASSWORD


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


def nav_follow(page, group: str, link: str) -> None:
    """Open a group of the main navigation (a disclosure menu) and follow one of its links."""
    nav = page.get_by_role("navigation", name="Main")
    nav.locator("summary", has_text=group).click()
    # Returns once the followed page has loaded, so that what a test checks next is on it.
    with page.expect_navigation():
        nav.get_by_role("link", name=link).click()


def log_out(page) -> None:
    """Sign out through the account menu, as a person would."""
    page.locator(".account-menu summary").click()
    page.get_by_role("button", name="Log out").click()
