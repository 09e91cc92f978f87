"""An examiner grades an essay from the queue in Chromium, releases it, and the resident
reads the mark and feedback."""

import pytest
from playwright.sync_api import expect

from grading.models import MarkingState, ResponseMarking
from tests.browser.session import log_in, nav_follow
from tests.grading_tests.builders import essay_exam, finished_attempt

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_examiner_marks_an_essay_from_the_queue(live_server, people, browser_page, screenshot_dir):
    exam = essay_exam(title="Noise exam", double=False)
    attempt, essay = finished_attempt(
        exam,
        people["resident"],
        text="Noise shifts the logits of isolated pixels.\n<b>not bold</b>",
        auto_score=4.0,
    )
    page = browser_page
    log_in(page, live_server.url, people["examiner"].username)
    page.goto(f"{live_server.url}/grading/mine/")
    # The examiner's navigation leads to the queue.
    nav_follow(page, "Assess", "Grading queue")
    page.wait_for_url("**/grading/queue/")
    # One row per answer to mark (the essay and the auto-marked ones), each under the code.
    expect(page.get_by_role("cell", name=attempt.candidate_code, exact=True).first).to_be_visible()
    assert people["resident"].username not in page.content()
    page.screenshot(path=screenshot_dir / "1-queue.png", full_page=True)

    page.get_by_role("link", name=f"Mark {attempt.candidate_code}").click()
    page.wait_for_url(f"**/grading/responses/{essay.pk}/")
    # The answer is shown as text: the <b> tag is visible, not applied.
    expect(page.get_by_text("<b>not bold</b>")).to_be_visible()
    page.get_by_label("3 — Mostly right").check()
    page.get_by_label("5 — Thorough").check()
    page.get_by_label("Feedback on “Accuracy”").fill("Correct mechanism.")
    page.get_by_label("Overall feedback").fill("Clear and well argued.")
    page.screenshot(path=screenshot_dir / "2-marking.png", full_page=True)
    page.get_by_role("button", name="Submit mark").click()
    page.wait_for_load_state("networkidle")
    # (3 + 5) / 10 rubric points * 20 = 16
    assert page.locator("#agreed-points").inner_text() == "16"
    page.get_by_role("button", name="Release to the resident").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#marking-state").get_attribute("data-state") == "released"
    page.screenshot(path=screenshot_dir / "3-released.png", full_page=True)
    marking = ResponseMarking.objects.get(response=essay)
    assert (marking.state, marking.released_points) == (MarkingState.RELEASED, 16.0)
    # The resident sees marks once the exam's marks are released (one fact, issue 17 item 2).
    page.goto(f"{live_server.url}/grading/queue/?assessment={exam['assessment'].pk}")
    page.get_by_role("button", name="Release this assessment's marks").click()
    page.wait_for_load_state("networkidle")

    page.context.clear_cookies()
    log_in(page, live_server.url, people["resident"].username)
    page.goto(f"{live_server.url}/grading/queue/")
    assert "Only examiners" in page.content()  # a resident is refused the queue
    nav_follow(page, "Assess", "My grades")
    page.get_by_role("link", name="Noise exam").click()
    # 4 auto + 16 = 20 of 25 = 80 %
    assert "20 of 25 points (80 %)" in page.locator("#attempt-result").inner_text()
    expect(page.get_by_text("Correct mechanism.")).to_be_visible()
    page.screenshot(path=screenshot_dir / "4-resident-feedback.png", full_page=True)
