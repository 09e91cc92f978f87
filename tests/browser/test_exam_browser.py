"""A resident sits an exam in Chromium: a choice question and an image question answered by
clicking the spleen in the viewer; answers autosave, a reload keeps them, and the marks stay
hidden until the exam's results are released."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from assessments.ground_truth import ground_truth_load, segment_labels
from assessments.models import Attempt, AttemptStatus
from assessments.services import assessment_results_release
from studies.services import study_course_add
from tests.assessments_tests.builders import choice_question, course_of, exam
from tests.browser import viewer_support
from tests.browser.session import log_in
from tests.browser.viewer_support import viewer_call, viewer_open

viewer_library_build = viewer_support.viewer_library_build
viewer_studies = viewer_support.viewer_studies

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def spleen_exam(viewer_studies, demo_lesson):
    from assessments.models import QuestionKind
    from assessments.services import question_ensure

    study = viewer_studies["chest-ct"]
    course = course_of(demo_lesson)
    study_course_add(study=study, course=course)
    ct = study.series.get(modality="CT")
    seg = study.series.get(modality="SEG", series_number=2)
    numbers = {label: number for number, label in segment_labels(seg.series_instance_uid)}
    data = {
        "study_uid": study.study_instance_uid,
        "series_uid": ct.series_instance_uid,
        "seg_series_uid": seg.series_instance_uid,
        "segment_number": numbers["Spleen"],
        "tolerance_mm": 5.0,
    }
    truth = ground_truth_load(data)
    k = int(truth.mask.reshape(len(truth.sop_uids), -1).sum(axis=1).argmax())
    data["initial_slice"] = k + 1
    spleen = question_ensure(
        title="Click the spleen",
        kind=QuestionKind.IMAGE_POINT,
        prompt="<p>Place a point on the spleen.</p>",
        data=data,
        max_points=2,
    )
    windows = choice_question("Lung window", correct=1)
    assessment = exam([windows, spleen], course=course, title="Browser exam", time_limit_minutes=30)
    # The spleen pixel farthest from the spleen's edge on that slice: a safe place to click.
    depth = ndimage.distance_transform_edt(truth.mask[k])
    row, column = np.unravel_index(int(depth.argmax()), depth.shape)
    return {"exam": assessment, "slice": k + 1, "target": (float(column) + 0.5, float(row) + 0.5)}


def _saved(page, position: int) -> None:
    page.locator(f"#status-{position} [data-save-state='saved']").wait_for(timeout=30_000)


def test_resident_takes_an_exam_with_an_image_question(
    live_server, people, spleen_exam, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.goto(f"{live_server.url}/assess/{spleen_exam['exam'].pk}/")
    page.get_by_role("button", name="Start").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-countdown]").is_visible()

    page.get_by_label("Lung window option 1").check()
    _saved(page, 0)

    viewer = viewer_open(page, page.url)
    assert viewer.get_attribute("data-state") == "ready", viewer.locator(
        ".viewer-message"
    ).text_content()
    assert viewer.locator(".viewer-layers").is_hidden(), "the answer's SEG must not be offered"
    viewer.get_by_role("button", name="Point").click()
    x, y = viewer_call(page, f"v.imageToPage({list(spleen_exam['target'])})")
    page.mouse.click(x, y)
    _saved(page, 1)
    page.screenshot(path=screenshot_dir / "1-answered.png", full_page=True)
    viewer.screenshot(path=screenshot_dir / "2-point-on-spleen.png")

    # A dropped connection: the page is opened again and the answers are where they were.
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.get_by_label("Lung window option 1").is_checked()
    assert page.locator("[data-saved-mark]").is_visible()

    page.get_by_role("button", name="Submit answers").click()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=screenshot_dir / "3-submitted.png", full_page=True)
    assert "Marks not yet released" in page.locator("[data-result]").text_content()

    attempt = Attempt.objects.get(user=people["resident"])
    assert attempt.status == AttemptStatus.SUBMITTED
    spleen_response = attempt.responses.get(question__title="Click the spleen")
    assert (
        spleen_response.answer["sop_uid"]
        == ground_truth_load(spleen_response.question.data).sop_uids[spleen_exam["slice"] - 1]
    )
    assert spleen_response.auto_score == 2.0
    assert attempt.auto_score == 3.0

    assessment_results_release(assessment=spleen_exam["exam"])
    page.reload()
    page.wait_for_load_state("networkidle")
    assert "3.0 of 3.0 points (100%)" in page.locator("[data-result]").text_content()
    assert page.get_by_text("Correct: the point is on the finding.").is_visible()
    released = viewer_open(page, page.url)
    assert released.get_attribute("data-state") == "ready"
    # After release the segmentation that is the answer is drawn over the images.
    released.locator("xpath=self::*[@data-layers='ready']").wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    page.screenshot(path=screenshot_dir / "4-released.png", full_page=True)


@pytest.fixture
def liver_quiz(viewer_studies, demo_lesson):
    from assessments.models import QuestionKind
    from assessments.services import question_ensure
    from tests.assessments_tests.builders import quiz

    study = viewer_studies["chest-ct"]
    course = course_of(demo_lesson)
    study_course_add(study=study, course=course)
    seg = study.series.get(modality="SEG", series_number=2)
    numbers = {label: number for number, label in segment_labels(seg.series_instance_uid)}
    data = {
        "study_uid": study.study_instance_uid,
        "series_uid": study.series.get(modality="CT").series_instance_uid,
        "seg_series_uid": seg.series_instance_uid,
        "segment_number": numbers["Liver"],
    }
    truth = ground_truth_load(data)
    k = int(truth.mask.reshape(len(truth.sop_uids), -1).sum(axis=1).argmax())
    data["initial_slice"] = k + 1
    box = question_ensure(
        title="Box the liver",
        kind=QuestionKind.IMAGE_BOX,
        prompt="<p>Draw a box around the liver.</p>",
        data=data,
        explanation="<p>The liver fills the right upper quadrant.</p>",
    )
    rows, columns = np.nonzero(truth.mask[k])
    return {
        "quiz": quiz([box], course=course, title="Browser quiz", max_attempts=None),
        "truth": truth,
        "slice": k,
        "corners": [
            (float(columns.min()), float(rows.min())),
            (float(columns.max()) + 1, float(rows.max()) + 1),
        ],
    }


def test_a_quiz_box_gets_feedback_at_once(
    live_server, people, liver_quiz, browser_page, screenshot_dir
):
    from assessments.scoring.image_marks import box_mask, overlap

    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.goto(f"{live_server.url}/assess/{liver_quiz['quiz'].pk}/")
    page.get_by_role("button", name="Start").click()
    viewer = viewer_open(page, page.url)
    assert viewer.get_attribute("data-state") == "ready"
    viewer.get_by_role("button", name="Box").click()
    start, end = (viewer_call(page, f"v.imageToPage({list(p)})") for p in liver_quiz["corners"])
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()
    _saved(page, 0)
    feedback = page.locator("#status-0 [data-feedback]")
    feedback.wait_for()
    page.screenshot(path=screenshot_dir / "1-box-feedback.png", full_page=True)

    attempt = Attempt.objects.get(user=people["resident"])
    answer = attempt.responses.get().answer
    truth, k = liver_quiz["truth"], liver_quiz["slice"]
    assert answer["sop_uid"] == truth.sop_uids[k]
    # The box as the server stored it, scored independently here: the bounding box of the
    # liver holds the liver and some of its surroundings.
    dice, _iou = overlap(box_mask(truth.mask.shape[1:], answer["image"]), truth.mask[k])
    assert 0.5 < dice < 1
    assert f"Dice {dice:.2f}" in feedback.text_content()
    assert "The liver fills the right upper quadrant." in feedback.text_content()
