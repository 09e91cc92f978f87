"""The shipped course's quiz as a resident meets it, and the outcome mapping as a programme
director reads it, in Chromium (issue 15, items 4 and 5).

The resident starts the "Where AI fails" module quiz from its lesson: the choice options
appear in the order drawn for this attempt (stored on it, so reloading shows the same order),
and the image question is answered in the viewer by boxing the spleen on the library's chest
CT. The director opens the mapping page and downloads it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from accounts.services import enrolment_create
from assessments.ground_truth import ground_truth_load
from assessments.models import Assessment, Attempt
from curriculum.content import CONTENT_DIR
from curriculum.models import LessonPage
from curriculum.services import curriculum_content_load
from tests.browser import viewer_support
from tests.browser.session import log_in
from tests.browser.viewer_support import viewer_call

viewer_library_build = viewer_support.viewer_library_build
viewer_studies = viewer_support.viewer_studies

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MODULE = "05-where-ai-fails"


@pytest.fixture
def shipped_module(viewer_studies, people, tmp_path):
    """Module 5 of the shipped course, loaded with the chest CT in the library (so its image
    question is made), and the resident enrolled."""
    target = tmp_path / "content"
    target.mkdir()
    shutil.copy(CONTENT_DIR / "course.toml", target)
    shutil.copytree(CONTENT_DIR / MODULE, target / MODULE)
    course, _report = curriculum_content_load(content_dir=target)
    enrolment_create(user=people["resident"], course=course)
    return {
        "course": course,
        "lesson": LessonPage.objects.get(slug="adversarial-inputs"),
        "quiz": Assessment.objects.get(title="Where AI fails"),
    }


def _shown_options(page, number: int) -> list[str]:
    return [text.strip() for text in page.locator(f"#q{number} label.choice").all_text_contents()]


def test_resident_takes_the_module_quiz_with_shuffled_options_and_an_image_question(
    live_server, people, shipped_module, browser_page, screenshot_dir
):
    page = browser_page
    lesson, quiz = shipped_module["lesson"], shipped_module["quiz"]
    log_in(page, live_server.url, people["resident"].username)
    page.goto(f"{live_server.url}{lesson.url}")
    page.get_by_role("button", name="Start the quiz").click()
    page.locator("#q1 label.choice").first.wait_for()

    attempt = Attempt.objects.get(user=people["resident"], assessment=quiz)
    responses = list(attempt.responses.select_related("question").order_by("position"))
    # Each choice question shows its options in the order drawn for this attempt.
    for response in responses:
        question = response.question
        if question.kind not in ("single_choice", "multiple_choice"):
            continue
        order = attempt.option_orders[str(question.pk)]
        expected = [question.data["options"][i]["text"] for i in order]
        assert _shown_options(page, response.position + 1) == expected

    # A reload shows the same order (it is the attempt's, not the page's).
    first = _shown_options(page, 1)
    page.reload()
    assert _shown_options(page, 1) == first

    # The image question: box the spleen on the chest CT, in the lesson.
    image = next(r for r in responses if r.question.kind == "image_box")
    number = image.position + 1
    index = page.evaluate(
        "(n) => Array.from(document.querySelectorAll('[data-viewer]'))"
        ".indexOf(document.querySelector(`#q${n} [data-viewer]`))",
        number,
    )
    assert index >= 0, "the image question has no viewer"
    viewer = page.locator("[data-viewer]").nth(index)
    viewer.scroll_into_view_if_needed()
    viewer.locator("xpath=self::*[@data-state='ready' or @data-state='error']").wait_for(
        timeout=60_000
    )
    assert viewer.get_attribute("data-state") == "ready", viewer.locator(
        ".viewer-message"
    ).text_content()
    page.screenshot(path=screenshot_dir / "1-quiz-started.png", full_page=True)
    truth = ground_truth_load(image.question.data)
    k = image.question.data["initial_slice"] - 1
    rows, columns = np.nonzero(truth.mask[k])
    corners = [
        (float(columns.min()), float(rows.min())),
        (float(columns.max()) + 1, float(rows.max()) + 1),
    ]
    viewer.get_by_role("button", name="Box").click()
    start, end = (
        viewer_call(page, f"v.imageToPage({list(corner)})", index=index) for corner in corners
    )
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=6)
    page.mouse.up()
    feedback = page.locator(f"#status-{image.position} [data-feedback]")
    feedback.wait_for(timeout=60_000)
    viewer.screenshot(path=screenshot_dir / "2-spleen-boxed.png")
    page.screenshot(path=screenshot_dir / "3-image-question-feedback.png", full_page=True)
    image.refresh_from_db()
    assert image.answer["kind"] == "box" and image.answer["sop_uid"] == truth.sop_uids[k]
    assert image.auto_score is not None and image.auto_score > 0
    assert "Dice" in feedback.text_content()


def test_programme_director_reads_and_downloads_the_mapping(
    live_server, people, browser_page, screenshot_dir
):
    course, _report = curriculum_content_load()
    page = browser_page
    log_in(page, live_server.url, people["educator"].username)
    page.goto(f"{live_server.url}{course.url}")
    level = page.get_by_role("region", name="Who this course serves")
    assert "stated at ESR level III" in level.text_content()
    level.screenshot(path=screenshot_dir / "0-course-level.png")
    page.get_by_role("link", name="Outcome mapping").click()
    page.get_by_role("heading", name="Coverage per ESR curriculum topic").wait_for()
    coverage = page.locator("#coverage tbody tr")
    assert coverage.count() == 8
    assert page.locator("#coverage .gap").count() == 0
    assert page.locator("#outcomes tbody tr").count() >= 70
    page.screenshot(path=screenshot_dir / "1-mapping.png", full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    path = download.value.path()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("module,lesson,outcome,domain,esr_level,esr_etc_topic")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download JSON").click()
    assert download.value.suggested_filename.endswith(".json")
