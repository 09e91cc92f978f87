"""Answers stored against the wrong question (issue 17 item 1) are repaired: a mark that the
old viewer saved as the answer of every image question on one series stays only with the
question it was placed for, finished attempts are scored again, and the residents of
released ones are listed to be told."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from assessments import services
from assessments.models import AttemptStatus, MarkCorrection, QuestionKind
from tests.assessments_tests.builders import choice_question, exam

pytestmark = pytest.mark.django_db

SERIES = {"study_uid": "2.25.1", "series_uid": "2.25.2", "seg_series_uid": "2.25.3"}
SPLEEN_SLICE, HEART_SLICE = 43, 62


@pytest.fixture
def one_series_exam():
    spleen = services.question_ensure(
        title="Click the spleen",
        kind=QuestionKind.IMAGE_POINT,
        prompt="<p>Place a point on the spleen.</p>",
        data={**SERIES, "segment_number": 1, "initial_slice": SPLEEN_SLICE},
        max_points=2,
    )
    heart = services.question_ensure(
        title="The heart's largest slice",
        kind=QuestionKind.IMAGE_SLICE,
        prompt="<p>Scroll to the slice where the heart is largest.</p>",
        data={**SERIES, "segment_number": 2, "initial_slice": 1},
    )
    return exam([spleen, heart, choice_question()], title="One-series exam")


def _stored_twice(attempt, *, slice_number: int, points: dict[str, float]) -> None:
    """The old fault's result: one mark stored as the answer of both image questions."""
    mark = {"kind": "point", "sop_uid": f"2.25.9.{slice_number}", "slice": slice_number}
    mark["image"] = [[200.0, 180.0]]
    for response in attempt.responses.select_related("question"):
        if response.question.kind in (QuestionKind.IMAGE_POINT, QuestionKind.IMAGE_SLICE):
            response.answer = mark
            response.auto_score = points[response.question.title]
            response.save()
        else:
            response.answer = {"choice": [1]}
            response.auto_score = 1.0
            response.save()


def _finished(attempt, total: float):
    attempt.status = AttemptStatus.SUBMITTED
    attempt.submitted_at = timezone.now()
    attempt.auto_score = total
    attempt.save()


def _answers(attempt) -> dict:
    return {r.question.title: r for r in attempt.responses.select_related("question")}


def test_a_heart_slice_mark_stored_on_the_spleen_question_is_cleared_and_rescored(
    people, one_series_exam
):
    attempt = services.attempt_start(assessment=one_series_exam, user=people["resident"])
    # The resident clicked the spleen, then chose the heart slice: both kept the heart mark.
    _stored_twice(
        attempt,
        slice_number=HEART_SLICE,
        points={"Click the spleen": 0.0, "The heart's largest slice": 1.0},
    )
    _finished(attempt, total=2.0)
    services.assessment_results_release(assessment=one_series_exam)

    out = io.StringIO()
    call_command("answers_shared_marks_repair", stdout=out)

    answers = _answers(attempt)
    assert answers["Click the spleen"].answer is None
    assert answers["Click the spleen"].auto_score == 0.0
    assert "placed for another question" in answers["Click the spleen"].feedback
    assert answers["The heart's largest slice"].answer["slice"] == HEART_SLICE
    assert answers["The heart's largest slice"].auto_score == 1.0
    attempt.refresh_from_db()
    assert attempt.auto_score == 2.0
    report = out.getvalue()
    assert "Cleared 1 answer(s)" in report
    assert f"told on My grades: {people['resident'].username}" in report
    assert "Corrections recorded for candidates: 1." in report
    (correction,) = MarkCorrection.objects.all()
    assert correction.response == answers["Click the spleen"]
    assert (correction.points_before, correction.points_after) == (0.0, 0.0)

    # Running it again finds nothing more to do.
    again = io.StringIO()
    call_command("answers_shared_marks_repair", stdout=again)
    assert "Cleared 0 answer(s)" in again.getvalue()
    assert MarkCorrection.objects.count() == 1


def test_a_spleen_mark_stays_with_the_spleen_question_and_open_attempts_are_cleared_too(
    people, one_series_exam
):
    attempt = services.attempt_start(assessment=one_series_exam, user=people["resident"])
    # Placed in the spleen question's viewer, on the image it opened on.
    _stored_twice(
        attempt,
        slice_number=SPLEEN_SLICE,
        points={"Click the spleen": 2.0, "The heart's largest slice": 0.0},
    )
    out = io.StringIO()
    call_command("answers_shared_marks_repair", "--dry-run", stdout=out)
    assert "Would clear 1 answer(s)" in out.getvalue()
    assert _answers(attempt)["The heart's largest slice"].answer is not None

    call_command("answers_shared_marks_repair", stdout=io.StringIO())
    answers = _answers(attempt)
    assert answers["Click the spleen"].answer["slice"] == SPLEEN_SLICE
    assert answers["Click the spleen"].auto_score == 2.0
    # Still in progress: the heart question is unanswered again, for the resident to answer.
    assert answers["The heart's largest slice"].answer is None
    assert answers["The heart's largest slice"].auto_score is None


def test_a_mark_whose_question_cannot_be_told_is_left_for_an_examiner(people, one_series_exam):
    attempt = services.attempt_start(assessment=one_series_exam, user=people["resident"])
    for response in attempt.responses.select_related("question"):
        if response.question.kind == QuestionKind.IMAGE_SLICE:
            # Both questions open on the same image: the mark could be either's.
            response.question.data = {**response.question.data, "initial_slice": SPLEEN_SLICE}
            response.question.kind = QuestionKind.IMAGE_POINT
            response.question.save()
    _stored_twice(
        attempt,
        slice_number=SPLEEN_SLICE,
        points={"Click the spleen": 2.0, "The heart's largest slice": 0.0},
    )
    out = io.StringIO()
    call_command("answers_shared_marks_repair", stdout=out)
    assert "an examiner should decide" in out.getvalue()
    assert all(r.answer is not None for r in _answers(attempt).values())


def test_the_resident_is_told_on_my_grades_once_the_marks_are_released(
    client, people, one_series_exam
):
    """A copied mark that scored: the resident's total falls, and My grades and the
    feedback page say which question changed, from what to what, when and why."""
    attempt = services.attempt_start(assessment=one_series_exam, user=people["resident"])
    # Placed on the spleen question's opening image; the copy happened to score on Q2.
    _stored_twice(
        attempt,
        slice_number=SPLEEN_SLICE,
        points={"Click the spleen": 2.0, "The heart's largest slice": 1.0},
    )
    _finished(attempt, total=4.0)
    call_command("answers_shared_marks_repair", stdout=io.StringIO())
    attempt.refresh_from_db()
    assert attempt.auto_score == 3.0
    heart = _answers(attempt)["The heart's largest slice"]
    client.force_login(people["resident"])

    # Not released yet: no mark is shown anywhere, so no correction either.
    page = client.get(reverse("grading:my_grades")).content.decode()
    assert "data-mark-corrections" not in page

    services.assessment_results_release(assessment=one_series_exam)
    for url in (
        reverse("grading:my_grades"),
        reverse("grading:attempt_feedback", args=[attempt.pk]),
    ):
        page = client.get(url).content.decode()
        assert 'data-mark-corrections="1"' in page, url
        assert f"One-series exam (attempt 1), question {heart.position + 1}: 1 → 0 points" in page
        assert "placed for another question on the same images" in page

    # Another resident is told nothing.
    client.force_login(people["outsider"])
    assert "data-mark-corrections" not in client.get(reverse("grading:my_grades")).content.decode()
