"""Chromium fixtures of the browser suite, for the lab's own browser test."""

from tests.browser.conftest import browser_page, screenshot_dir  # noqa: F401 - fixtures
