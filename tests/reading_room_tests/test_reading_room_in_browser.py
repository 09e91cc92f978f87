"""A resident runs the triage simulator in Chromium, replays it and sees both side by side."""

from __future__ import annotations

import pytest

from reading_room.models import SimulationRun
from tests.browser.session import log_in
from tests.reading_room_tests.matrix_support import exercises_embed, scores_make_ready

pytestmark = pytest.mark.browser


def images_loaded(page) -> list[int]:
    """Natural widths of the plot images (0 for one that failed to load)."""
    page.wait_for_load_state("networkidle")
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
    page.locator(f"#reading-room-{exercise.pk}").screenshot(
        path=str(screenshot_dir / "lesson-block.png")
    )
    page.get_by_label("Flag studies scoring at least").fill("0.3")
    page.get_by_label("Reading order").first.select_option("flag")
    page.get_by_role("button", name="Run the simulation").first.click()
    page.wait_for_url("**/reading-room/runs/*/")
    assert page.get_by_role("heading", name="This run").is_visible()
    widths = images_loaded(page)
    assert len(widths) == 2 and all(width > 100 for width in widths), widths
    first = SimulationRun.objects.get()

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

    # The screening simulator: clear below 0.2, then see workload, ROC and PPV.
    screening = exercises["screening"]
    page.goto(f"{live_server.url}{demo_lesson.url}#reading-room-{screening.pk}")
    page.get_by_label("AI clears cases scoring below").fill("0.2")
    page.locator(f"#reading-room-{screening.pk}").get_by_role(
        "button", name="Run the simulation"
    ).click()
    page.wait_for_url("**/reading-room/runs/*/")
    assert page.get_by_role("rowheader", name="Human reads saved (workload reduction)").is_visible()
    widths = images_loaded(page)
    assert len(widths) == 3 and all(width > 100 for width in widths), widths
    page.screenshot(path=str(screenshot_dir / "screening.png"), full_page=True)
