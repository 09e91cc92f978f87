"""A resident takes a short reader study in Chromium: the lesson block, unaided cases, cases
with AI marks (following every mark), then their own results."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reader_study.models import ReaderSession
from tests.browser.session import log_in, log_out
from tests.reader_study_tests.matrix_support import exercise_embed
from tests.reader_study_tests.test_pages import residents_finish

pytestmark = pytest.mark.browser


def picture_width(page) -> int:
    page.wait_for_load_state("networkidle")
    return page.eval_on_selector("figure img", "image => image.complete ? image.naturalWidth : 0")


def test_a_resident_takes_a_short_reader_study(
    browser_page, screenshot_dir, live_server, demo_lesson, people
):
    exercise = exercise_embed(demo_lesson)
    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.goto(f"{live_server.url}{demo_lesson.url}#reader-study-{exercise.pk}")
    block = page.locator(f"#reader-study-{exercise.pk}")
    expect(block.get_by_text("2 of the 6 AI suggestions are deliberately wrong")).to_be_visible()
    block.screenshot(path=str(screenshot_dir / "lesson-block.png"))
    block.get_by_role("button", name="Start the reader study").click()

    for number in range(1, 7):
        page.wait_for_url("**/reader-study/sessions/*/cases/*/")
        assert page.get_by_role("heading", name="Part 1: without AI").is_visible()
        assert page.get_by_test_id("progress").inner_text().startswith(f"Case {number} of 6")
        assert page.get_by_test_id("ai-suggestion").count() == 0
        assert picture_width(page) == 256
        if number == 1:
            page.screenshot(path=str(screenshot_dir / "unaided-case.png"), full_page=True)
        page.get_by_label("3 · Possibly a lesion").check()
        page.get_by_role("button", name="Rate and go on").click()

    for number in range(1, 7):
        page.wait_for_url("**/reader-study/sessions/*/cases/*/")
        assert page.get_by_role("heading", name="Part 2: with the AI's mark").is_visible()
        suggestion = page.get_by_test_id("ai-suggestion").inner_text()
        assert picture_width(page) == 256
        if number == 1:
            assert page.get_by_text("2 of these 6 suggestions are deliberately wrong").is_visible()
        if "Lesion suspected" in suggestion:
            page.screenshot(path=str(screenshot_dir / "aided-case-marked.png"), full_page=True)
        # This resident always follows the AI.
        label = (
            "5 · Definitely a lesion"
            if "Lesion suspected" in suggestion
            else "1 · Definitely no lesion"
        )
        page.get_by_label(label).check()
        page.get_by_role("button", name="Rate and go on").click()

    page.wait_for_url("**/reader-study/sessions/*/")
    assert page.get_by_role("heading", name="Your reader study").is_visible()
    suggestions = page.get_by_test_id("suggestion-table")
    assert "2 / 2 (100 %" in suggestions.get_by_role("row").first.inner_text()
    assert page.locator("tr[data-ai-wrong]").count() == 2
    page.screenshot(path=str(screenshot_dir / "results.png"), full_page=True)
    session = ReaderSession.objects.get(user=people["resident"])
    assert session.results["suggestions"]["followed_wrong"]["count"] == 2

    # Back in the lesson, the block now leads to the results.
    page.goto(f"{live_server.url}{demo_lesson.url}#reader-study-{exercise.pk}")
    expect(block.get_by_role("link", name="See your results")).to_be_in_viewport()

    # Four more residents take part: the educator now sees the cohort's aggregate of five.
    residents_finish(range(4), lesson=demo_lesson, exercise=exercise)
    log_out(page)
    log_in(page, live_server.url, people["educator"].username)
    page.goto(f"{live_server.url}{demo_lesson.url}#reader-study-{exercise.pk}")
    page.get_by_role("link", name="The cohort's aggregate (educators)").click()
    assert page.get_by_test_id("aggregate-table").is_visible()
    assert "5 residents" in page.get_by_test_id("aggregate-table").inner_text()
    page.screenshot(path=str(screenshot_dir / "cohort-aggregate.png"), full_page=True)
