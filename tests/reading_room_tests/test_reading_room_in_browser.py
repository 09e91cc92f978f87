"""A resident walks both reading-room labs in Chromium: the PE triage night (with the score
source disclosed, a preset clinic and an aging rule), a replay side by side, and the
screening pathways against double reading."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reading_room.models import SimulationRun
from tests.browser.session import log_in
from tests.reading_room_tests.matrix_support import exercises_embed, scores_make_ready

pytestmark = pytest.mark.browser


def images_loaded(page) -> list[int]:
    """Natural widths of the plot images (0 for one that failed to load)."""
    page.wait_for_load_state("networkidle")
    # The plots load lazily: bring each into view, then wait until every one has finished.
    for image in page.locator("figure img").all():
        image.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('figure img')].every(image => image.complete)"
    )
    return page.eval_on_selector_all(
        "figure img", "images => images.map(image => image.complete ? image.naturalWidth : 0)"
    )


def test_run_replay_and_compare_in_the_browser(
    browser_page,
    screenshot_dir,
    live_server,
    demo_lesson,
    people,
):
    exercises = exercises_embed(demo_lesson)
    exercise = exercises["triage"]
    scores_make_ready()
    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.goto(f"{live_server.url}{demo_lesson.url}#reading-room-{exercise.pk}")
    block = page.locator(f"#reading-room-{exercise.pk}")
    expect(block.get_by_text("Borrowed scores: no pulmonary embolism model")).to_be_visible()
    block.screenshot(path=str(screenshot_dir / "lesson-block.png"))
    page.get_by_label("Flag studies scoring at least").fill("0.3")
    page.get_by_label("Reading order").first.select_option("flag")
    block.get_by_label("Clinic").select_option("overnight-backlog")
    block.get_by_label("Aging rule").fill("90")
    page.get_by_role("button", name="Run the simulation").first.click()
    page.wait_for_url("**/reading-room/runs/*/")
    assert page.get_by_role("heading", name="This run").is_visible()
    assert page.get_by_role("columnheader", name="Critical the AI missed").is_visible()
    assert page.get_by_text("Borrowed scores: no pulmonary embolism model").is_visible()
    widths = images_loaded(page)
    assert len(widths) == 2 and all(width > 100 for width in widths), widths
    page.screenshot(path=str(screenshot_dir / "triage-overnight.png"), full_page=True)
    first = SimulationRun.objects.get()
    assert first.parameters["clinic"] == "overnight-backlog"
    assert first.parameters["aging_minutes"] == 90.0

    page.get_by_label("Replay the same day with flag threshold").fill("0.8")
    page.get_by_role("button", name="Replay").click()
    page.wait_for_url("**/reading-room/runs/*/")
    second = SimulationRun.objects.exclude(pk=first.pk).get()
    assert page.url.endswith(f"/reading-room/runs/{second.pk}/")
    assert page.get_by_role("heading", name="Compared with").is_visible()
    widths = images_loaded(page)
    assert len(widths) == 4 and all(width > 100 for width in widths), widths
    page.screenshot(path=str(screenshot_dir / "side-by-side.png"), full_page=True)
    assert second.threshold == 0.8
    assert second.results["flags"]["flags"] <= first.results["flags"]["flags"]

    # The replay kept the clinic and the aging rule the resident chose.
    assert second.parameters["clinic"] == "overnight-backlog"

    # The screening simulator: the AI positive from 0.5, the pathways against double reading.
    screening = exercises["screening"]
    page.goto(f"{live_server.url}{demo_lesson.url}#reading-room-{screening.pk}")
    screening_block = page.locator(f"#reading-room-{screening.pk}")
    screening_block.screenshot(path=str(screenshot_dir / "screening-block.png"))
    page.get_by_label("AI positive at scores of at least").fill("0.5")
    screening_block.get_by_role("button", name="Run the simulation").click()
    page.wait_for_url("**/reading-room/runs/*/")
    for pathway in ("Double reading with arbitration (baseline)", "MASAI-style", "ScreenTrustCAD"):
        assert page.get_by_role("rowheader", name=pathway).is_visible()
    widths = images_loaded(page)
    assert len(widths) == 3 and all(width > 100 for width in widths), widths
    page.screenshot(path=str(screenshot_dir / "screening.png"), full_page=True)
