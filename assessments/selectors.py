"""Reads for assessments: papers, results, item statistics, and quiz-based lesson completion."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import timezone

from assessments.models import (
    FINISHED_STATUSES,
    Assessment,
    AssessmentItem,
    AssessmentKind,
    Attempt,
    MarkCorrection,
    Question,
    Response,
)
from assessments.qti.writer import QtiPackage, question_bank_package
from assessments.scoring.registry import scorer_for

# An answer counts as correct for "proportion correct" when it earned this share of its points.
CORRECT_FRACTION = 0.999


def attempt_finished_q() -> Q:
    return Q(status__in=FINISHED_STATUSES)


def assessments_for_user(*, user) -> list[Assessment]:
    """Published assessments this user may take (residents) or look after (staff)."""
    from accounts import permissions, roles

    assessments = Assessment.objects.select_related("course").order_by("title")
    if not roles.is_staff_role(user):
        assessments = assessments.filter(is_published=True)
    return [a for a in assessments if permissions.may(user, "assessments.view", a)]


def attempts_of_user(*, user, assessment: Assessment) -> QuerySet[Attempt]:
    return assessment.attempts.filter(user=user).order_by("number")


# --- The paper --------------------------------------------------------------------------


@dataclass
class PaperItem:
    """One question as this attempt shows it: options in the attempt's drawn order."""

    response: Response
    question: Question
    options: list[tuple[int, str]] = field(default_factory=list)  # (original index, text)

    @property
    def number(self) -> int:
        return self.response.position + 1

    @property
    def chosen(self) -> list[int]:
        answer = self.response.answer
        return list(answer) if isinstance(answer, list) else []


def attempt_paper(*, attempt: Attempt) -> list[PaperItem]:
    items = []
    for response in attempt.responses.select_related("question").order_by("position"):
        question = response.question
        item = PaperItem(response=response, question=question)
        options = question.data.get("options") or []
        order = attempt.option_orders.get(str(question.pk), list(range(len(options))))
        item.options = [(i, options[i]["text"]) for i in order if i < len(options)]
        items.append(item)
    return items


LIKERT_VALUES = ["1", "2", "3", "4", "5"]


def attempt_paper_for_answering(*, attempt: Attempt) -> list[PaperItem]:
    """The paper with what the answering page shows: a quiz's feedback on saved answers,
    units to choose from, the viewer's answer field, and the case ratings so far."""
    from assessments.scoring.numeric import units_accepted

    items = attempt_paper(attempt=attempt)
    is_quiz = attempt.assessment.kind == AssessmentKind.QUIZ
    for item in items:
        response, question = item.response, item.question
        item.show_feedback = is_quiz and response.saved_at is not None
        item.answer_key = answer_key_text(question) if item.show_feedback else ""
        item.units = units_accepted(question.data.get("unit", ""))
        item.field_id = f"marks-{attempt.pk}-{response.position}"
        item.marks_initial = _marks_for_viewer(question, response.answer)
        ratings = response.answer if isinstance(response.answer, list) else []
        item.cases = [
            {
                "index": index,
                "label": case.get("label", ""),
                "study_uid": case.get("study_uid", ""),
                "value": f"{ratings[index]:g}" if index < len(ratings) else None,
            }
            for index, case in enumerate(question.data.get("cases") or [])
        ]
    return items


def _marks_for_viewer(question: Question, answer) -> str:
    """A saved image answer in the shape the viewer posts, so it draws the mark again."""
    if not question.is_image_question or not isinstance(answer, dict):
        return ""
    mark = {
        "kind": answer.get("kind"),
        "sopInstanceUID": answer.get("sop_uid"),
        "frame": 1,
        "slice": answer.get("slice"),
        "image": answer.get("image"),
    }
    return json.dumps({"seriesInstanceUID": question.data.get("series_uid"), "marks": [mark]})


def marks_released(*, attempt: Attempt, now: dt.datetime | None = None) -> bool:
    """Whether the candidate may see this attempt's marks: the one answer that the result
    page, the feedback page, "My grades", the gradebook, certificates and lesson completion
    all ask (through `attempt_marks`).

    Quizzes: at once (formative). Exams: once the attempt is finished and the exam's marks
    are released (`results_released_at`, set by `grading.services.assessment_marks_release`,
    which releases the agreed examiner marks with it). Before that no score is shown
    anywhere, not even a provisional one: "marks shown once released".
    """
    if attempt.assessment.kind == AssessmentKind.QUIZ:
        return True
    released_at = attempt.assessment.results_released_at
    now = now or timezone.now()
    return attempt.is_finished and released_at is not None and released_at <= now


def mark_corrections_for(*, user, attempt: Attempt | None = None) -> list[MarkCorrection]:
    """Corrections made to this user's automatic marks after submission (e.g. by the shared
    mark repair), newest first, for the attempts whose marks they may already see
    (`marks_released`): before release a correction would tell a mark nobody has shown.
    With `attempt`, only that attempt's."""
    corrections = MarkCorrection.objects.filter(response__attempt__user=user).select_related(
        "response__attempt__assessment"
    )
    if attempt is not None:
        corrections = corrections.filter(response__attempt=attempt)
    return [c for c in corrections if marks_released(attempt=c.response.attempt)]


def answer_key_visible(*, attempt: Attempt, now: dt.datetime | None = None) -> bool:
    """Quizzes: once an answer is saved (formative). Exams: once finished and the key itself
    is released, which is a separate step from releasing the marks."""
    if attempt.assessment.kind == AssessmentKind.QUIZ:
        return True
    released_at = attempt.assessment.key_released_at
    now = now or timezone.now()
    return attempt.is_finished and released_at is not None and released_at <= now


def answer_key_text(question: Question) -> str:
    return scorer_for(question.kind).answer_key(question.data)


# --- Results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AutoMarkOverride:
    """An examiner's correction of an automatic mark (kept and audited by grading)."""

    points: float
    points_before: float | None
    reason: str
    at: dt.datetime


@dataclass(frozen=True)
class ExaminerMarks:
    """How the app that holds examiners' marks (grading, a layer above) feeds them into a
    result; it registers itself at start-up, so assessments never imports it."""

    # {response pk: points} of the released examiner marks of an attempt's answers.
    released_points: Callable[[Attempt], dict[int, float]]
    # {response pk: the newest override} of an attempt's automatically marked answers.
    auto_mark_overrides: Callable[[Attempt], dict[int, AutoMarkOverride]]


_examiner_marks: ExaminerMarks | None = None


def examiner_marks_register(marks: ExaminerMarks) -> None:
    global _examiner_marks
    _examiner_marks = marks


class MarksStatus:
    """What a page says about an attempt's marks; `templates/includes/marks_status.html`
    words it the same way on every page."""

    UNRELEASED = "unreleased"  # nothing is shown
    PENDING = "pending"  # released, but some examiner marks are not in yet: not final
    FINAL = "final"


@dataclass(frozen=True)
class ItemMark:
    """One answer's mark as its candidate may see it."""

    response: Response
    examiner_marked: bool
    # What counts: the automatic mark, an examiner's override of it, or the released
    # examiner mark; None while an examiner's mark is not released.
    points: float | None
    auto_points: float | None  # the scorer's own mark (auto-marked answers)
    explanation: str  # the scorer's reason for its mark
    override: AutoMarkOverride | None = None

    @property
    def max_points(self) -> float:
        return self.response.max_points


@dataclass(frozen=True)
class AttemptMarks:
    """An attempt's marks and their release state: the one reading every page shows."""

    attempt: Attempt
    released: bool  # marks_released: may the candidate see them at all
    key_released: bool  # answer_key_visible
    items: list[ItemMark]
    maximum: float
    points_so_far: float  # only for people who may see it (examiners, once released)

    @property
    def pending(self) -> int:
        """Examiner-marked answers whose mark is not released yet."""
        return sum(1 for item in self.items if item.points is None)

    @property
    def final(self) -> bool:
        return self.released and self.attempt.is_finished and self.pending == 0

    @property
    def status(self) -> str:
        if not self.released:
            return MarksStatus.UNRELEASED
        return MarksStatus.FINAL if self.final else MarksStatus.PENDING

    @property
    def score(self) -> float | None:
        return round(self.points_so_far, 2) if self.released else None

    @property
    def percent(self) -> float | None:
        if not self.released:
            return None
        return round(100.0 * self.points_so_far / self.maximum, 2) if self.maximum else 0.0

    def as_result(self) -> dict:
        """The dict the pages and the gradebook read: score and percent are None until the
        marks are released; `complete` (final) decides a pass."""
        return {
            "score": self.score,
            "max": round(self.maximum, 2),
            "percent": self.percent,
            "complete": self.final,
            "released": self.released,
            "pending": self.pending,
            "status": self.status,
        }


def attempt_marks(*, attempt: Attempt, now: dt.datetime | None = None) -> AttemptMarks:
    """Every answer's mark and the attempt's total, with their release state.

    Auto-marked answers count the scorer's mark, or an examiner's override of it (the newest);
    examiner-marked answers count their released examiner mark. Whether the candidate sees
    any of it is `marks_released`, one fact for every page.
    """
    responses = list(attempt.responses.select_related("question").order_by("position"))
    released_points = _examiner_marks.released_points(attempt) if _examiner_marks else {}
    overrides = _examiner_marks.auto_mark_overrides(attempt) if _examiner_marks else {}
    items = []
    for response in responses:
        examiner_marked = response.question.is_examiner_marked
        override = None if examiner_marked else overrides.get(response.pk)
        if examiner_marked:
            points = released_points.get(response.pk)
        elif override is not None:
            points = override.points
        else:
            points = response.auto_score or 0.0
        items.append(
            ItemMark(
                response=response,
                examiner_marked=examiner_marked,
                points=points,
                auto_points=None if examiner_marked else response.auto_score,
                explanation=response.feedback,
                override=override,
            )
        )
    return AttemptMarks(
        attempt=attempt,
        released=marks_released(attempt=attempt, now=now),
        key_released=answer_key_visible(attempt=attempt, now=now),
        items=items,
        maximum=sum(r.max_points for r in responses) or attempt.max_score,
        points_so_far=sum(item.points for item in items if item.points is not None),
    )


# The viewer's colour for a candidate's own mark (a label map over the images): yellow,
# apart from the reference segmentation's palette and readable on grey.
OWN_MARK_COLOUR = "#ffd400"


def item_image_overlays(item: ItemMark, *, key_released: bool, label: str = "Your mark") -> str:
    """The viewer's overlays for a marked image answer, as JSON: the candidate's mark on the
    image it was placed on, and, once the key is released, the reference segmentation
    beside it (before then the page must not name the key's series at all)."""
    from django.urls import reverse

    response = item.response
    layers = []
    if key_released:
        layers.append({"type": "seg", "series": response.question.data.get("seg_series_uid", "")})
    answer = response.answer if isinstance(response.answer, dict) else {}
    if answer.get("image"):
        layer = {
            "type": "labelmap",
            "url": reverse("assessments:answer_mark", args=[response.pk]),
            "label": label,
            "legend": [{"value": 1, "name": label, "colour": OWN_MARK_COLOUR}],
            "opacity": 1,
        }
        if isinstance(answer.get("slice"), int):
            layer["slice"] = answer["slice"]
        layers.append(layer)
    return json.dumps(layers)


def attempt_result_items(*, marks: AttemptMarks, mark_label: str = "Your mark") -> list[PaperItem]:
    """The attempt's answers as the result and feedback pages show them: each with its mark,
    the answer key and the images with the candidate's mark (and, once the key is released,
    the reference region beside it). Nothing of the key before its release."""
    paper = {item.response.pk: item for item in attempt_paper(attempt=marks.attempt)}
    items = []
    for mark in marks.items:
        item = paper[mark.response.pk]
        item.mark = mark
        item.answer_key = answer_key_text(item.question) if marks.key_released else ""
        item.image_overlays = (
            item_image_overlays(mark, key_released=marks.key_released, label=mark_label)
            if item.question.is_image_question and marks.released
            else "[]"
        )
        items.append(item)
    return items


def attempt_result(*, attempt: Attempt) -> dict:
    """score, max, percent, complete, released, pending, status (see AttemptMarks)."""
    return attempt_marks(attempt=attempt).as_result()


def attempt_passed(*, attempt: Attempt) -> bool:
    result = attempt_result(attempt=attempt)
    return bool(result["complete"]) and result["percent"] >= attempt.assessment.pass_percent


# --- Lesson completion (curriculum.selectors asks) ---------------------------------------


def lesson_quiz_ids(page) -> set[int]:
    """Primary keys of the quizzes a lesson embeds (quiz blocks)."""
    body = getattr(page.specific, "body", None)
    if not body:
        return set()
    # Only the quiz blocks are converted (a StreamField converts the blocks of one type
    # together), not the lesson's figures or labs.
    quizzes = (body[index] for index, raw in enumerate(body.raw_data) if raw["type"] == "quiz")
    return {
        block.value["assessment"].pk
        for block in quizzes
        if block.value.get("assessment") is not None
    }


def lesson_ids_quiz_passed(*, user, lesson_ids: Iterable[int] | None = None) -> set[int]:
    """Lessons where this user passed the embedded quiz in an attempt started there."""
    attempts = Attempt.objects.filter(
        attempt_finished_q(), user=user, lesson__isnull=False
    ).select_related("assessment")
    if lesson_ids is not None:
        attempts = attempts.filter(lesson_id__in=list(lesson_ids))
    return {a.lesson_id for a in attempts if attempt_passed(attempt=a)}


def lesson_quiz_pending(*, user, lesson) -> bool:
    """The lesson embeds a quiz that this user has not passed from it yet."""
    return bool(lesson_quiz_ids(lesson)) and lesson.pk not in lesson_ids_quiz_passed(
        user=user, lesson_ids=[lesson.pk]
    )


# --- Statistics for educators ------------------------------------------------------------


@dataclass(frozen=True)
class QuestionStatistics:
    question: Question
    answered: int
    mean_fraction: float | None  # difficulty index: mean share of the points earned
    proportion_correct: float | None
    discrimination: float | None  # corrected point-biserial (item vs rest of the paper)


@dataclass(frozen=True)
class AssessmentStatistics:
    assessment: Assessment
    attempts: int
    percents: list[float]
    mean_percent: float | None
    questions: list[QuestionStatistics]


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    if n < 3:
        return None
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    syy = sum((y - mean_y) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return sxy / math.sqrt(sxx * syy)


def assessment_statistics(*, assessment: Assessment) -> AssessmentStatistics:
    """Item analysis over finished attempts, automatically scored answers only.

    Difficulty: the mean fraction of the points earned (and the proportion fully correct).
    Discrimination: the corrected point-biserial correlation, i.e. Pearson's r between an
    answer's fraction of points and the candidate's percentage on the *other* questions
    they were given (excluding the item itself, so it does not correlate with itself).
    Needs 3 attempts with some spread; None otherwise.
    """
    attempts = list(assessment.attempts.filter(attempt_finished_q()))
    responses = list(
        Response.objects.filter(attempt__in=attempts, auto_score__isnull=False)
        .select_related("question")
        .order_by("question_id")
    )
    by_attempt: dict[int, list[Response]] = {}
    for response in responses:
        by_attempt.setdefault(response.attempt_id, []).append(response)
    percents = [100.0 * a.auto_score / a.max_score for a in attempts if a.max_score]
    by_question: dict[int, list[Response]] = {}
    for response in responses:
        by_question.setdefault(response.question_id, []).append(response)
    rows = []
    for question_responses in by_question.values():
        fractions, rests = [], []
        for response in question_responses:
            fraction = response.auto_score / response.max_points if response.max_points else 0.0
            others = [r for r in by_attempt[response.attempt_id] if r.pk != response.pk]
            other_max = sum(r.max_points for r in others)
            fractions.append(fraction)
            rests.append(sum(r.auto_score for r in others) / other_max if other_max else 0.0)
        n = len(fractions)
        rows.append(
            QuestionStatistics(
                question=question_responses[0].question,
                answered=n,
                mean_fraction=sum(fractions) / n if n else None,
                proportion_correct=sum(f >= CORRECT_FRACTION for f in fractions) / n if n else None,
                discrimination=_pearson(fractions, rests),
            )
        )
    rows.sort(key=lambda row: row.question.title)
    return AssessmentStatistics(
        assessment=assessment,
        attempts=len(attempts),
        percents=percents,
        mean_percent=sum(percents) / len(percents) if percents else None,
        questions=rows,
    )


def score_distribution_svg(*, statistics: AssessmentStatistics) -> str:
    """A histogram of the attempts' percentages (10-point bins) as an SVG document."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3), dpi=100)
    axes = figure.subplots()
    bins = list(range(0, 101, 10))
    axes.hist(statistics.percents, bins=bins, color="#2f6f9f", edgecolor="white")
    axes.axvline(statistics.assessment.pass_percent, color="#b23b3b", linestyle="--")
    # Above the plot area, so that it never hides a bar.
    axes.text(
        statistics.assessment.pass_percent,
        1.02,
        f"pass mark {statistics.assessment.pass_percent:g}%",
        transform=axes.get_xaxis_transform(),
        color="#b23b3b",
        ha="center",
        va="bottom",
    )
    axes.set_xlim(0, 100)
    axes.set_xlabel("Score (% of the points)")
    axes.set_ylabel("Attempts")
    axes.set_title(f"{statistics.attempts} finished attempts", loc="left")
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    return buffer.getvalue()


def exam_answer_key_series_uids() -> set[str]:
    """Segmentation series that score image questions of exams whose key is not released.

    A question is attached to an exam when the exam lists it, draws from its pool, or drew
    it into an attempt already (its pool tag may have changed since). From that moment until
    an educator releases the exam's key, residents must not reach these series by any path
    (the filter "assessments.unreleased_answer_keys"); a series serving several exams stays
    hidden until every one of them released its key. Practice quizzes' keys are not exam
    keys: a quiz gives feedback at once.
    """
    unreleased = Assessment.objects.filter(kind=AssessmentKind.EXAM, key_released_at__isnull=True)
    items = AssessmentItem.objects.filter(assessment__in=unreleased)
    drawn = Response.objects.filter(attempt__assessment__in=unreleased).values("question")
    questions = Question.objects.filter(
        Q(pk__in=items.filter(question__isnull=False).values("question"))
        | Q(pool__in=items.exclude(pool="").values("pool"))
        | Q(pk__in=drawn)
    )
    return {
        uid
        for uid in questions.values_list("data__seg_series_uid", flat=True)
        if isinstance(uid, str) and uid
    }


def assessment_by_pk(pk: int) -> Assessment | None:
    """The assessment with its course, or None (access: "assessments.view")."""
    return Assessment.objects.select_related("course").filter(pk=pk).first()


def finished_response_by_pk(pk: int) -> Response | None:
    """An answer of a finished attempt, with its question and attempt, or None (access:
    "assessments.view_answer_mark")."""
    return (
        Response.objects.select_related("question", "attempt__assessment")
        .filter(pk=pk, attempt__status__in=FINISHED_STATUSES)
        .first()
    )


def attempt_by_pk(pk: int) -> Attempt | None:
    """The attempt with its assessment and candidate, or None (access:
    "assessments.open_own_attempt")."""
    return Attempt.objects.select_related("assessment", "user").filter(pk=pk).first()


def question_bank_qti_package(*, pool: str = "") -> QtiPackage:
    """The bank (or one pool of it) as an IMS QTI 2.1 content package, answer keys included
    (access: "assessments.export_question_bank")."""
    questions = Question.objects.order_by("pk")
    if pool:
        questions = questions.filter(pool=pool)
    return question_bank_package(questions)
