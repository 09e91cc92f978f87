"""Issue 17, item 2, in Chromium: the resident, the educator and the examiner walk an exam's
results from submission to an overridden mark, and every page says the same thing.

The resident answers the choice question right and places the spleen point beside the
spleen, not on it (1 of 3 points). Before the release no page shows a score; the educator
releases the marks; the resident reads 0 / 2 for the point and why; the educator releases
the key and the resident sees their point beside the reference region; an examiner reviews
the automatic mark blind and overrides it with a reason, and the total follows.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from assessments.ground_truth import ground_truth_load
from assessments.models import Assessment, Attempt
from grading.models import AuditAction, AuditEntry
from tests.browser import test_exam_browser as exam_browser
from tests.browser import viewer_support
from tests.browser.session import log_in
from tests.browser.viewer_support import (
    image_point_on_screen,
    viewer_open,
    viewport_rgb,
)

viewer_library_build = viewer_support.viewer_library_build
viewer_studies = viewer_support.viewer_studies
spleen_exam = exam_browser.spleen_exam
_saved, _start = exam_browser._saved, exam_browser._start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OWN_MARK_RGB = (255, 212, 0)  # assessments.selectors.OWN_MARK_COLOUR


def _as(page, live_server, user):
    """A page of a fresh browser context, signed in as `user`."""
    other = page.context.browser.new_context(viewport={"width": 1280, "height": 900})
    other_page = other.new_page()
    other_page.set_default_timeout(30_000)
    log_in(other_page, live_server.url, user.username)
    return other_page


def _status(page) -> str:
    return page.locator("[data-marks-status]").first.get_attribute("data-marks-status")


def test_results_from_submission_to_an_overridden_mark(
    live_server, people, spleen_exam, browser_page, screenshot_dir
):
    page, exam = browser_page, spleen_exam["exam"]
    resident = people["resident"]
    log_in(page, live_server.url, resident.username)
    page.goto(f"{live_server.url}/assess/{exam.pk}/")
    _start(page)
    page.get_by_label("Lung window option 1").check()
    _saved(page, 0)
    viewer = viewer_open(page, page.url)
    viewer.get_by_role("button", name="Point").click()
    # The middle of the image: inside the body, far from the spleen.
    question = exam.items.get(question__title="Click the spleen").question
    mask = ground_truth_load(question.data).mask[spleen_exam["slice"] - 1]
    rows, columns = mask.shape
    assert not mask[rows // 2, columns // 2]
    beside = [columns / 2 + 0.5, rows / 2 + 0.5]
    x, y = image_point_on_screen(page, beside)
    page.mouse.click(x, y)
    _saved(page, 1)
    page.get_by_role("link", name="Review and submit").click()
    page.get_by_role("button", name="Submit answers").click()
    attempt = Attempt.objects.get(user=resident)
    spleen = attempt.responses.get(question__title="Click the spleen")
    assert spleen.auto_score == 0.0 and "from the finding" in spleen.feedback
    result_url = f"{live_server.url}/assess/attempts/{attempt.pk}/result/"

    # 1. Before the release: no score on the result page, nor on My grades, nor the feedback.
    expect(page.locator("[data-result]")).to_contain_text("Marks not yet released")
    page.screenshot(path=screenshot_dir / "1-result-before-release.png", full_page=True)
    for name, url in (
        ("2-my-grades-before-release", f"{live_server.url}/grading/mine/"),
        ("2b-feedback-before-release", f"{live_server.url}/grading/attempts/{attempt.pk}/"),
    ):
        page.goto(url)
        assert _status(page) == "unreleased"
        assert "of 3 points" not in page.content() and "33.3" not in page.content()
        page.screenshot(path=screenshot_dir / f"{name}.png", full_page=True)

    # 2. The educator releases the marks from the exam's statistics page.
    educator = _as(page, live_server, people["educator"])
    educator.goto(f"{live_server.url}/assess/{exam.pk}/statistics/")
    educator.get_by_role("button", name="Release the marks to candidates").click()
    expect(educator.locator("#marks-released")).to_be_visible()

    # 3. The resident reads the mark and why, the same on every page; the key stays hidden.
    page.goto(result_url)
    assert _status(page) == "final"
    expect(page.locator("[data-result]")).to_contain_text("1 of 3 points (33.33 %)")
    assert "Marks not yet released" not in page.content()
    point = page.locator("#q2")
    expect(point.locator("[data-item-mark]")).to_contain_text("0 / 2")
    expect(point.locator("[data-explanation]")).to_contain_text("mm from the finding")
    assert page.locator("[data-viewer]").count() == 0  # no key, so no reference region
    page.screenshot(path=screenshot_dir / "3-result-released-key-withheld.png", full_page=True)
    page.goto(f"{live_server.url}/grading/mine/")
    expect(page.locator("[data-result]").first).to_contain_text("1 of 3 points (33.33 %)")
    page.screenshot(path=screenshot_dir / "4-my-grades-released.png", full_page=True)
    page.goto(f"{live_server.url}/grading/attempts/{attempt.pk}/")
    point = page.locator("[data-question-kind='image_point']")
    expect(point.locator("[data-explanation]")).to_contain_text("from the finding")
    page.screenshot(path=screenshot_dir / "5-feedback-released.png", full_page=True)

    # 4. The exam closes; the educator releases the key: the point beside the reference.
    Assessment.objects.filter(pk=exam.pk).update(closes_at=timezone.now())
    educator.goto(f"{live_server.url}/assess/{exam.pk}/statistics/")
    educator.get_by_role("button", name="Release the answer key").click()
    expect(educator.locator("#key-released")).to_be_visible()
    educator.context.close()
    viewer = viewer_open(page, result_url)
    assert viewer.get_attribute("data-state") == "ready", viewer.locator(
        ".viewer-message"
    ).text_content()
    viewer.locator("xpath=self::*[@data-layers='ready']").wait_for(timeout=60_000)
    expect(viewer.locator("fieldset.viewer-layer", has_text="Your mark")).to_be_visible()
    assert viewer.locator("fieldset.viewer-layer").count() >= 2  # the reference SEG too
    rgb = viewport_rgb(viewer, screenshot_dir / "6-point-beside-reference.png")
    own = (np.abs(rgb - np.array(OWN_MARK_RGB)) <= 8).all(axis=2)
    assert own.sum() > 20, "the resident's point is drawn on the image"
    page.screenshot(path=screenshot_dir / "7-result-key-released.png", full_page=True)

    # 5. An examiner reviews the automatic mark, blind, and overrides it with a reason.
    examiner = _as(page, live_server, people["examiner"])
    examiner.goto(f"{live_server.url}/grading/queue/?state=auto")
    examiner.get_by_role("link", name=f"Review {attempt.candidate_code}: Click the spleen").click()
    review = examiner.content()
    assert attempt.candidate_code in review and resident.username not in review
    expect(examiner.locator("[data-explanation]")).to_contain_text("from the finding")
    examiner.get_by_label("New mark (points)").fill("2")
    examiner.get_by_label("Why the automatic mark is wrong").fill(
        "The point is on the splenic hilum, which the reference outline leaves out."
    )
    examiner.get_by_role("button", name="Override the mark").click()
    expect(examiner.locator("#counted-mark")).to_contain_text("2 / 2")
    # The examiner sees the candidate's point beside the reference region too.
    marked = examiner.locator("[data-viewer]")
    marked.locator("xpath=self::*[@data-layers='ready']").wait_for(timeout=60_000)
    expect(marked.locator("fieldset.viewer-layer", has_text="Candidate's mark")).to_be_visible()
    examiner.screenshot(path=screenshot_dir / "8-examiner-override.png", full_page=True)
    examiner.context.close()
    entry = AuditEntry.objects.get(action=AuditAction.AUTO_MARK_OVERRIDE)
    assert (entry.before["points"], entry.after["points"]) == (0.0, 2.0)

    viewer_open(page, result_url)
    expect(page.locator("[data-result]")).to_contain_text("3 of 3 points (100 %)")
    expect(page.locator("#q2 [data-item-mark]")).to_contain_text("the automatic mark was 0")
    expect(page.locator("#q2 [data-override]")).to_contain_text("changed it from 0 to 2 points")
    page.screenshot(path=screenshot_dir / "9-result-after-override.png", full_page=True)
    page.goto(f"{live_server.url}/grading/mine/")
    expect(page.locator("[data-result]").first).to_contain_text("3 of 3 points (100 %)")
