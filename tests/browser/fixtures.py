"""Chromium (Debian's /usr/bin/chromium) driven by Playwright against the live server; the
fixtures are registered for every test directory in tests/conftest.py.

One Chromium serves the whole test run (starting it costs seconds on a busy machine); each
test gets a fresh browser context, so cookies, storage and cache never carry over.
"""

from __future__ import annotations

from asyncio import events
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results" / "browser"


@pytest.fixture
def screenshot_dir(request) -> Path:
    """Screenshots are kept under test-results/browser/<test name>/ for people to look at."""
    directory = ARTIFACTS / request.node.name
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class _PlaywrightLoop:
    """Playwright's sync API parks its event loop as this thread's running loop for as long
    as Playwright runs; Django then refuses every ORM call in the thread. The loop is set
    only while a browser test runs, so the tests between them see a thread with no loop."""

    def __init__(self) -> None:
        self.loop = events._get_running_loop()
        events._set_running_loop(None)

    @contextmanager
    def attached(self) -> Iterator[None]:
        events._set_running_loop(self.loop)
        try:
            yield
        finally:
            events._set_running_loop(None)


@pytest.fixture(scope="session")
def chromium():
    """The test run's one Chromium and the Playwright loop that drives it."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package.")
    playwright = sync_playwright().start()
    loop = _PlaywrightLoop()
    with loop.attached():
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
    yield browser, loop
    with loop.attached():
        browser.close()
        playwright.stop()


@pytest.fixture
def browser_page(live_server, chromium, monkeypatch):
    """A page in a fresh browser context of the shared Chromium."""
    browser, loop = chromium
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are still ordinary synchronous ones. Only for this test: the
    # deploy check rightly refuses the variable.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with loop.attached():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            context.close()
    _live_requests_wait()


def _live_requests_wait(timeout: float = 30.0) -> None:
    """Wait until the live server has answered every request the page had sent (a viewer
    may still be fetching frames when the test ends). The test database is emptied next;
    a request still reading rows while it is truncated can deadlock with the truncation."""
    import threading
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [t for t in threading.enumerate() if "process_request_thread" in t.name]
        if not busy:
            return
        time.sleep(0.05)
