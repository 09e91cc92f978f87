"""Reads for grading: the queue, what each person may see of a marking, results, the
gradebook arithmetic and whether a course's requirements are met."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from assessments import selectors as assessment_selectors
from assessments.models import (
    EXAMINER_MARKED_KINDS,
    FINISHED_STATUSES,
    Assessment,
    AssessmentKind,
    Attempt,
    Response,
)
from curriculum.selectors import course_lab_work
from grading.models import (
    AuditEntry,
    AutoMarkOverride,
    Certificate,
    GradebookCategory,
    GradeOverride,
    Mark,
    MarkingScheme,
    MarkingState,
    ResponseMarking,
    Rubric,
)

DEFAULT_DISCREPANCY_PERCENT = 10.0


# --- Rules that apply to an assessment ---------------------------------------------------


def marking_rules_for(assessment: Assessment) -> tuple[bool, float]:
    """(double marking?, discrepancy threshold in percent) for this assessment."""
    scheme = MarkingScheme.objects.filter(assessment=assessment).first()
    if scheme is not None:
        return scheme.double_marking, scheme.discrepancy_percent
    return True, float(
        getattr(settings, "GRADING_DISCREPANCY_PERCENT", DEFAULT_DISCREPANCY_PERCENT)
    )


def rubric_for_response(response: Response) -> Rubric | None:
    """The rubric attached to the question, else the one attached to the assessment."""
    by_question = Rubric.objects.filter(attachments__question_id=response.question_id).first()
    if by_question is not None:
        return by_question
    return Rubric.objects.filter(attachments__assessment_id=response.attempt.assessment_id).first()


def rubric_criteria(rubric: Rubric | None) -> list[dict]:
    """The rubric's criteria as plain dicts: key (the block id), title, description, levels."""
    if rubric is None:
        return []
    criteria = []
    for block in rubric.criteria:
        levels = [
            {"points": float(level["points"]), "descriptor": level["descriptor"]}
            for level in block.value["levels"]
        ]
        criteria.append(
            {
                "key": block.id,
                "title": block.value["title"],
                "description": block.value["description"],
                "levels": levels,
                "max_points": max((level["points"] for level in levels), default=0.0),
            }
        )
    return criteria


# --- The queue ---------------------------------------------------------------------------


def examiner_marked_responses() -> QuerySet[Response]:
    """Examiner-marked answers of finished attempts: what examiners mark."""
    return Response.objects.filter(
        question__kind__in=EXAMINER_MARKED_KINDS, attempt__status__in=FINISHED_STATUSES
    )


def reviewable_responses() -> QuerySet[Response]:
    """Every answer of a finished attempt: examiner-marked answers to mark, automatically
    marked ones to review (and override, with a reason, where the scorer was wrong)."""
    return Response.objects.filter(attempt__status__in=FINISHED_STATUSES)


def auto_marked_exam_responses() -> QuerySet[Response]:
    """Automatically marked answers of finished exam attempts: the queue lists them for
    review beside the answers examiners mark (a quiz's marks are formative)."""
    return Response.objects.filter(
        attempt__status__in=FINISHED_STATUSES, attempt__assessment__kind=AssessmentKind.EXAM
    ).exclude(question__kind__in=EXAMINER_MARKED_KINDS)


# Queue states of automatically marked answers (examiner-marked ones have MarkingState).
AUTO_MARKED = "auto"
AUTO_OVERRIDDEN = "auto_overridden"
AUTO_STATES = {
    AUTO_MARKED: _("Marked automatically"),
    AUTO_OVERRIDDEN: _("Automatic mark overridden"),
}


def state_of(response: Response) -> str:
    marking = getattr(response, "grading_marking", None)
    return marking.state if marking is not None else MarkingState.UNMARKED


def candidate_label(attempt: Attempt) -> str:
    """How examiners name the author: the candidate code under blind marking, else the name."""
    if attempt.assessment.blind_marking:
        return attempt.candidate_code
    return f"{attempt.user} ({attempt.candidate_code})"


@dataclass
class QueueRow:
    response: Response
    state: str
    state_label: str
    candidate: str
    marked_by_me: bool
    points: float | None = None  # automatically marked answers: the mark that counts


def grading_queue(
    *,
    user,
    course_id: int | None = None,
    assessment_id: int | None = None,
    state: str | None = None,
) -> list[QueueRow]:
    """Answers needing (or having had) an examiner, oldest submission first: the examiner-
    marked answers, and the automatically marked answers of exams for review."""
    related = ("attempt__assessment__course", "attempt__user", "question", "grading_marking")
    examined = examiner_marked_responses().select_related(*related)
    automatic = auto_marked_exam_responses().select_related(*related)
    if state in AUTO_STATES:
        examined = examined.none()
        overridden = Q(auto_mark_overrides__isnull=False)
        automatic = (
            automatic.filter(overridden)
            if state == AUTO_OVERRIDDEN
            else automatic.exclude(overridden)
        ).distinct()
    elif state == MarkingState.UNMARKED:
        automatic = automatic.none()
        examined = examined.filter(
            Q(grading_marking__isnull=True) | Q(grading_marking__state=MarkingState.UNMARKED)
        )
    elif state:
        automatic = automatic.none()
        examined = examined.filter(grading_marking__state=state)
    responses = []
    for queryset in (examined, automatic):
        if course_id:
            queryset = queryset.filter(attempt__assessment__course_id=course_id)
        if assessment_id:
            queryset = queryset.filter(attempt__assessment_id=assessment_id)
        responses.extend(queryset)
    responses.sort(key=lambda r: (r.attempt.submitted_at, r.attempt_id, r.position))
    mine = set(
        Mark.objects.filter(
            examiner=user, marking__response__in=[r.pk for r in responses]
        ).values_list("marking__response_id", flat=True)
    )
    return _queue_rows(responses, mine=mine)


def _queue_rows(responses: list[Response], *, mine: set[int]) -> list[QueueRow]:
    overrides = _newest_overrides([r.pk for r in responses if not r.question.is_examiner_marked])
    rows = []
    for response in responses:
        if response.question.is_examiner_marked:
            current = state_of(response)
            label, points = MarkingState(current).label, None
        else:
            override = overrides.get(response.pk)
            current = AUTO_OVERRIDDEN if override is not None else AUTO_MARKED
            label = str(AUTO_STATES[current])
            points = override.points if override is not None else (response.auto_score or 0.0)
        rows.append(
            QueueRow(
                response=response,
                state=current,
                state_label=label,
                candidate=candidate_label(response.attempt),
                marked_by_me=response.pk in mine,
                points=points,
            )
        )
    return rows


def _newest_overrides(response_ids: list[int]) -> dict[int, AutoMarkOverride]:
    newest: dict[int, AutoMarkOverride] = {}
    rows = AutoMarkOverride.objects.filter(response_id__in=response_ids).order_by(
        "created_at", "pk"
    )
    for row in rows:
        newest[row.response_id] = row
    return newest


def auto_mark_history(response: Response) -> list[AutoMarkOverride]:
    """Every override of an automatically marked answer, newest first, with its examiner."""
    return list(AutoMarkOverride.objects.filter(response=response).select_related("examiner"))


def attempt_answers(attempt: Attempt) -> list[QueueRow]:
    """Every answer of one attempt as the examiner's pages list them (each links to its own
    marking or review page), so that automatically marked answers reach the examiner."""
    responses = list(
        attempt.responses.select_related("question", "grading_marking", "attempt__assessment")
    )
    return _queue_rows(responses, mine=set())


def queue_assessments() -> list[Assessment]:
    """Assessments with answers in the queue (examiner-marked questions, or exams with
    finished attempts), for the queue's filter."""
    return list(
        Assessment.objects.filter(
            Q(attempts__responses__question__kind__in=EXAMINER_MARKED_KINDS)
            | Q(kind=AssessmentKind.EXAM, attempts__status__in=FINISHED_STATUSES)
        ).distinct()
    )


def marks_visible_to(marking: ResponseMarking | None, user) -> list[Mark]:
    """The marks this person may read: independence of double marking lives here.

    While marking is open (unmarked, awaiting the second mark) an examiner sees only their own
    mark, so the second marker cannot be anchored by the first. Once both marks are in (in
    moderation, agreed, released) every examiner sees both.
    """
    if marking is None:
        return []
    marks = list(marking.marks.select_related("examiner"))
    # Markers are named by the order they marked in ("Marker A", "Marker B"), so a
    # moderator can tell the two marks apart without the markers' names.
    for index, mark in enumerate(marks):
        mark.marker_code = chr(ord("A") + index)
    if marking.state in (MarkingState.UNMARKED, MarkingState.AWAITING_SECOND):
        return [mark for mark in marks if mark.examiner_id == user.pk]
    return marks


# --- Results (used by the assessments app too) ------------------------------------------


def response_released_score(response: Response) -> float | None:
    """The released examiner mark of an examiner-marked response; None while unreleased."""
    marking = ResponseMarking.objects.filter(response=response).first()
    if marking is None or marking.released_at is None:
        return None
    return marking.released_points


def released_points(attempt: Attempt) -> dict[int, float]:
    """{response pk: released examiner mark} of the attempt's examiner-marked answers."""
    return dict(
        ResponseMarking.objects.filter(
            response__attempt=attempt, released_at__isnull=False
        ).values_list("response_id", "released_points")
    )


def auto_mark_overrides(attempt: Attempt) -> dict[int, assessment_selectors.AutoMarkOverride]:
    """{response pk: the newest override} of the attempt's automatically marked answers."""
    newest: dict[int, assessment_selectors.AutoMarkOverride] = {}
    rows = AutoMarkOverride.objects.filter(response__attempt=attempt).order_by("created_at", "pk")
    for row in rows:
        newest[row.response_id] = assessment_selectors.AutoMarkOverride(
            points=row.points, points_before=row.points_before, reason=row.reason, at=row.created_at
        )
    return newest


def attempt_result(attempt: Attempt) -> dict:
    """The attempt's result as its candidate may see it (assessments.selectors.attempt_marks:
    score and percent are None until the exam's marks are released)."""
    return assessment_selectors.attempt_result(attempt=attempt)


def attempt_passed(attempt: Attempt) -> bool:
    return assessment_selectors.attempt_passed(attempt=attempt)


@dataclass
class FeedbackRow:
    """One answer of an attempt as its candidate reads it on the feedback page."""

    response: Response
    item: assessment_selectors.PaperItem  # with .mark (ItemMark), .answer_key, .image_overlays
    marking: ResponseMarking | None
    released: bool  # the candidate may read this answer's mark now
    points: float | None
    marks: list[Mark]
    regrade_open: bool


def attempt_feedback(
    attempt: Attempt, marks: assessment_selectors.AttemptMarks | None = None
) -> list[FeedbackRow]:
    """Every answer of the attempt with what its candidate may read about its mark: nothing
    before the marks are released (assessments.selectors.marks_released); after, the
    automatic marks with the scorer's explanation (and any examiner override), and the
    examiner marks that are released."""
    marks = marks or assessment_selectors.attempt_marks(attempt=attempt)
    markings = {
        marking.response_id: marking
        for marking in ResponseMarking.objects.filter(response__attempt=attempt)
    }
    rows = []
    for item in assessment_selectors.attempt_result_items(marks=marks):
        mark = item.mark
        marking = markings.get(item.response.pk)
        if mark.examiner_marked:
            released = marks.released and mark.points is not None
        else:
            released = marks.released
        rows.append(
            FeedbackRow(
                response=item.response,
                item=item,
                marking=marking,
                released=released,
                points=mark.points if released else None,
                marks=list(marking.marks.all()) if released and marking else [],
                regrade_open=released
                and marking is not None
                and marking.state == MarkingState.REGRADE_REQUESTED,
            )
        )
    return rows


def attempts_of(user) -> QuerySet[Attempt]:
    return (
        Attempt.objects.filter(user=user, status__in=FINISHED_STATUSES)
        .select_related("assessment__course")
        .order_by("-submitted_at")
    )


# --- Gradebook ---------------------------------------------------------------------------


@dataclass
class AssessmentGrade:
    assessment: Assessment
    percent: float | None  # None: nothing final yet (no finished attempt, or unreleased marks)
    overridden: bool = False
    override_reason: str = ""


@dataclass
class CategoryGrade:
    category: GradebookCategory
    grades: list[AssessmentGrade]

    @property
    def percent(self) -> float | None:
        """The mean of the category's final assessment percentages (each counts equally)."""
        final = [grade.percent for grade in self.grades if grade.percent is not None]
        return round(sum(final) / len(final), 2) if final else None


@dataclass
class ResidentGrades:
    resident: object
    categories: list[CategoryGrade] = field(default_factory=list)
    # Labs finished with their questions answered in the lab, out of the course's labs
    # (curriculum.selectors.course_lab_work). Shown beside the grades: lab answers are the
    # resident's own reasoning, read but not marked, so they count as work done, not as a
    # percentage mixed into the weighted grade.
    labs: object = None

    @property
    def percent(self) -> float | None:
        """Weighted mean over the categories with a final grade, weights renormalised, so the
        course grade so far is not dragged down by work not yet marked or taken."""
        graded = [row for row in self.categories if row.percent is not None]
        total_weight = sum(row.category.weight for row in graded)
        if not total_weight:
            return None
        return round(sum(row.category.weight * row.percent for row in graded) / total_weight, 2)

    @property
    def is_final(self) -> bool:
        return all(grade.percent is not None for row in self.categories for grade in row.grades)


def assessment_percent(*, user, assessment: Assessment) -> float | None:
    """The best complete attempt's percentage (None without one)."""
    best = None
    for attempt in Attempt.objects.filter(
        user=user, assessment=assessment, status__in=FINISHED_STATUSES
    ):
        result = attempt_result(attempt)
        if result["complete"] and (best is None or result["percent"] > best):
            best = result["percent"]
    return best


def gradebook_categories(*, course) -> list[GradebookCategory]:
    return list(GradebookCategory.objects.filter(course=course).prefetch_related("assessments"))


def resident_grades(
    *, user, course, categories: list[GradebookCategory] | None = None
) -> ResidentGrades:
    """One resident's gradebook row: per assessment (best complete attempt, or the newest
    override), per category and weighted over the course."""
    if categories is None:
        categories = gradebook_categories(course=course)
    overrides = {}
    for override in GradeOverride.objects.filter(resident=user).order_by("created_at", "pk"):
        overrides[override.assessment_id] = override  # the newest wins
    row = ResidentGrades(resident=user, labs=course_lab_work(user=user, course=course))
    for category in categories:
        grades = []
        for assessment in category.assessments.all():
            override = overrides.get(assessment.pk)
            if override is not None:
                grades.append(AssessmentGrade(assessment, override.percent, True, override.reason))
            else:
                grades.append(
                    AssessmentGrade(
                        assessment, assessment_percent(user=user, assessment=assessment)
                    )
                )
        row.categories.append(CategoryGrade(category, grades))
    return row


def course_residents(*, course, cohort=None):
    """Active residents enrolled in the course (directly or by cohort), or in one cohort."""
    from accounts.models import Role, User

    if cohort is not None:
        people = cohort.members.all()
    else:
        people = User.objects.filter(Q(enrolments__course=course) | Q(cohorts__courses=course))
    return people.filter(role=Role.RESIDENT, is_active=True).distinct().order_by("username")


def course_gradebook(*, course, cohort=None) -> list[ResidentGrades]:
    categories = gradebook_categories(course=course)
    return [
        resident_grades(user=person, course=course, categories=categories)
        for person in course_residents(course=course, cohort=cohort)
    ]


def course_assessments(*, course) -> list[Assessment]:
    return list(Assessment.objects.filter(course=course).order_by("title"))


# --- Certificates ------------------------------------------------------------------------


@dataclass
class CourseRequirements:
    lessons_completed: int
    lessons_total: int
    exams: list[tuple[Assessment, bool]]

    @property
    def lessons_met(self) -> bool:
        return self.lessons_total > 0 and self.lessons_completed == self.lessons_total

    @property
    def met(self) -> bool:
        return self.lessons_met and all(passed for _exam, passed in self.exams)


def course_requirements(*, user, course) -> CourseRequirements:
    """Every lesson complete and every published exam of the course passed, with released
    marks (an exam still being marked is not passed yet)."""
    from curriculum.selectors import course_progress

    progress = course_progress(user=user, course=course)
    exams = []
    for exam in Assessment.objects.filter(
        course=course, kind=AssessmentKind.EXAM, is_published=True
    ).order_by("title"):
        attempts = Attempt.objects.filter(user=user, assessment=exam, status__in=FINISHED_STATUSES)
        exams.append((exam, any(attempt_passed(attempt) for attempt in attempts)))
    return CourseRequirements(progress.lessons_completed, progress.lessons_total, exams)


def certificate_for(*, user, course) -> Certificate | None:
    return Certificate.objects.filter(user=user, course=course).first()


def certificate_by_code(code: str) -> Certificate | None:
    return Certificate.objects.filter(code=code).first()


# --- Audit -------------------------------------------------------------------------------


def audit_entries(*, assessment_id: int | None = None, limit: int = 500) -> list[AuditEntry]:
    entries = AuditEntry.objects.select_related("actor", "response__attempt", "assessment")
    if assessment_id:
        entries = entries.filter(assessment_id=assessment_id)
    return list(entries[:limit])


def finished_attempt_by_pk(pk: int) -> Attempt | None:
    """A finished attempt with its assessment and candidate, or None (access:
    "grading.view_attempt_feedback")."""
    return (
        Attempt.objects.select_related("assessment", "user")
        .filter(pk=pk, status__in=FINISHED_STATUSES)
        .first()
    )


def response_by_pk(pk: int) -> Response | None:
    """The answer with its attempt and question, or None (access: "grading.request_regrade")."""
    return Response.objects.select_related("attempt", "question").filter(pk=pk).first()


def certificate_by_pk(pk: int) -> Certificate | None:
    """The certificate, or None (access: "grading.download_certificate")."""
    return Certificate.objects.filter(pk=pk).first()
