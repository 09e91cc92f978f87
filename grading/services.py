"""Writes for grading. Every change of a mark goes through here and leaves an audit entry.

Each service locks the marking row (`select_for_update`) before it reads the state, so two
examiners pressing buttons at the same moment are applied one after the other.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import transaction
from django.utils import timezone

from accounts import permissions
from assessments.models import FINISHED_STATUSES, Assessment, Attempt, AttemptStatus, Response
from assessments.services import assessment_results_release, attempt_expire_if_overdue
from grading import selectors
from grading.double_marking import (
    CriterionChoice,
    MarkingRefused,
    action_check,
    mark_allowed,
    marks_decide,
    points_check,
    rubric_points,
)
from grading.models import (
    AgreementSource,
    AuditAction,
    AuditEntry,
    AutoMarkOverride,
    Certificate,
    GradeOverride,
    Mark,
    MarkingState,
    RegradeRequest,
    ResponseMarking,
)

__all__ = ["MarkingRefused"]


def _audit(
    *,
    action: str,
    actor,
    response: Response | None = None,
    assessment: Assessment | None = None,
    resident=None,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditEntry:
    if response is not None:
        assessment = assessment or response.attempt.assessment
        resident = resident or response.attempt.user
    return AuditEntry.objects.create(
        action=action,
        actor=actor,
        response=response,
        assessment=assessment,
        resident=resident,
        before=before or {},
        after=after or {},
        reason=reason,
    )


def _snapshot(marking: ResponseMarking) -> dict:
    return {
        "state": marking.state,
        "agreed_points": marking.agreed_points,
        "released_points": marking.released_points,
    }


def _marking_locked(response: Response) -> ResponseMarking:
    """The response's marking, created on first use with the assessment's rules, locked."""
    if not response.question.is_examiner_marked:
        raise MarkingRefused("This answer is scored automatically; there is nothing to mark.")
    if not response.attempt.is_finished:
        raise MarkingRefused("This attempt is still in progress.")
    double, threshold = selectors.marking_rules_for(response.attempt.assessment)
    ResponseMarking.objects.get_or_create(
        response=response,
        defaults={"double_marking": double, "discrepancy_percent": threshold},
    )
    return ResponseMarking.objects.select_for_update().get(response=response)


def _criteria_choices(response: Response, chosen: dict[str, int], feedback: dict[str, str]):
    """Turn {criterion key: level index} into choices, checking every criterion is chosen."""
    choices = []
    for criterion in selectors.rubric_criteria(selectors.rubric_for_response(response)):
        index = chosen.get(criterion["key"])
        if index is None or not 0 <= index < len(criterion["levels"]):
            raise MarkingRefused(f"Choose a level for “{criterion['title']}”.")
        level = criterion["levels"][index]
        choices.append(
            CriterionChoice(
                criterion=criterion["title"],
                level_points=level["points"],
                criterion_max=criterion["max_points"],
                descriptor=level["descriptor"],
                feedback=feedback.get(criterion["key"], "").strip(),
            )
        )
    return choices


@transaction.atomic
def mark_submit(
    *,
    response: Response,
    examiner,
    points: float | None = None,
    levels: dict[str, int] | None = None,
    criterion_feedback: dict[str, str] | None = None,
    feedback: str = "",
) -> ResponseMarking:
    """Give (or change) this examiner's independent mark, then decide what the marks mean.

    With a rubric, `levels` chooses one level per criterion and `points` is ignored; without,
    `points` is the mark. An examiner may change their mark until both marks are in (or, in
    single marking, until release); after that only moderation or a regrade changes it.
    """
    marking = _marking_locked(response)
    own = marking.marks.filter(examiner=examiner).first()
    if not mark_allowed(
        marking.state,
        has_own_mark=own is not None,
        marks_given=marking.marks.count(),
        double_marking=marking.double_marking,
        agreed_source=marking.agreed_source,
    ):
        action_check("mark", marking.state)  # says why, in the state's words
        raise MarkingRefused("This answer already has all its marks.")
    choices = _criteria_choices(response, levels or {}, criterion_feedback or {})
    if choices:
        total = rubric_points(choices, max_points=response.max_points)
    elif points is None:
        raise MarkingRefused("Give the points for this answer.")
    else:
        total = points_check(points, max_points=response.max_points)
    criteria = [
        {
            "criterion": choice.criterion,
            "descriptor": choice.descriptor,
            "points": choice.level_points,
            "max_points": choice.criterion_max,
            "feedback": choice.feedback,
        }
        for choice in choices
    ]
    before = _snapshot(marking)
    if own is None:
        own = Mark.objects.create(
            marking=marking, examiner=examiner, points=total, criteria=criteria, feedback=feedback
        )
        _audit(
            action=AuditAction.MARK_CREATE,
            actor=examiner,
            response=response,
            before={},
            after={"mark": own.pk, "points": total},
        )
    else:
        _audit(
            action=AuditAction.MARK_CHANGE,
            actor=examiner,
            response=response,
            before={"mark": own.pk, "points": own.points},
            after={"mark": own.pk, "points": total},
        )
        own.points, own.criteria, own.feedback = total, criteria, feedback
        own.save(update_fields=["points", "criteria", "feedback", "changed_at"])
    decision = marks_decide(
        [mark.points for mark in marking.marks.order_by("submitted_at", "pk")],
        max_points=response.max_points,
        double_marking=marking.double_marking,
        threshold_percent=marking.discrepancy_percent,
    )
    marking.state = decision.state
    if decision.agreed_points is not None:
        marking.agreed_points = decision.agreed_points
        marking.agreed_source = AgreementSource.MARKS
        marking.agreed_by = None
        marking.agreed_reason = ""
        marking.agreed_at = timezone.now()
    marking.save()
    if decision.state in (MarkingState.AGREED, MarkingState.MODERATION):
        _audit(
            action=AuditAction.AGREE
            if decision.state == MarkingState.AGREED
            else AuditAction.DISCREPANCY,
            actor=examiner,
            response=response,
            before=before,
            after={**_snapshot(marking), "difference_percent": decision.difference_percent},
            reason=(
                "The marks agree: the agreed mark is their mean."
                if decision.state == MarkingState.AGREED and marking.double_marking
                else "Single marking: the mark is the agreed mark."
                if decision.state == MarkingState.AGREED
                else "The marks differ by more than the threshold: sent to a moderator."
            ),
        )
    return marking


@transaction.atomic
def marking_moderate(
    *, response: Response, moderator, points: float, reason: str
) -> ResponseMarking:
    """A moderator (neither marker) sets the agreed mark of a discrepant pair, with a reason."""
    marking = _marking_locked(response)
    action_check("moderate", marking.state)
    if not permissions.may(moderator, "grading.moderate", marking):
        raise MarkingRefused("A moderator must be an examiner who did not mark this answer.")
    if not reason.strip():
        raise MarkingRefused("Give the reason for the agreed mark.")
    points = points_check(points, max_points=response.max_points)
    before = _snapshot(marking)
    marking.state = MarkingState.AGREED
    marking.agreed_points = round(points, 2)
    marking.agreed_source = AgreementSource.MODERATION
    marking.agreed_by = moderator
    marking.agreed_reason = reason.strip()
    marking.agreed_at = timezone.now()
    marking.save()
    _audit(
        action=AuditAction.MODERATE,
        actor=moderator,
        response=response,
        before=before,
        after=_snapshot(marking),
        reason=marking.agreed_reason,
    )
    return marking


def _release(marking: ResponseMarking, *, by, reason: str = "") -> None:
    before = _snapshot(marking)
    marking.state = MarkingState.RELEASED
    marking.released_points = marking.agreed_points
    marking.released_at = timezone.now()
    marking.released_by = by
    marking.save()
    _audit(
        action=AuditAction.RELEASE,
        actor=by,
        response=marking.response,
        before=before,
        after=_snapshot(marking),
        reason=reason,
    )


@transaction.atomic
def marking_release(*, response: Response, by) -> ResponseMarking:
    """Let the resident see the agreed mark and the feedback."""
    marking = _marking_locked(response)
    action_check("release", marking.state)
    _release(marking, by=by)
    certificates_issue_if_eligible(attempt=response.attempt)
    return marking


@transaction.atomic
def assessment_release(*, assessment: Assessment, by, now: dt.datetime | None = None) -> int:
    """Release an assessment's marks: the one act after which its candidates see them.

    Sets the exam's `results_released_at` (assessments.selectors.marks_released: every page
    reads that one fact) and releases every agreed examiner mark with it; answers still
    being marked are released one by one when agreed. Releasing marks is not releasing the
    answer key (answer_key_release). Audited; returns how many examiner marks it released.
    """
    now = now or timezone.now()
    given = assessment
    assessment = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if assessment.results_released_at is None:
        assessment_results_release(assessment=assessment, now=now)
        # The caller's copy (and the attempts that hold it) read the release too.
        given.results_released_at = assessment.results_released_at
        _audit(
            action=AuditAction.MARKS_RELEASE,
            actor=by,
            assessment=assessment,
            after={"results_released_at": now.isoformat()},
        )
    count = 0
    markings = ResponseMarking.objects.select_for_update().filter(
        response__attempt__assessment=assessment, state=MarkingState.AGREED
    )
    for marking in markings.select_related("response__attempt"):
        _release(marking, by=by)
        count += 1
    for attempt in assessment.attempts.filter(status__in=FINISHED_STATUSES):
        certificates_issue_if_eligible(attempt=attempt)
    return count


@transaction.atomic
def auto_mark_override(
    *, response: Response, examiner, points: float, reason: str
) -> AutoMarkOverride:
    """An examiner replaces an automatic mark (a scorer can be wrong: a mask off by a
    slice, a unit it did not know), with a reason. Audited: who, when, the mark before,
    the new one and why. The scorer's own mark and explanation stay on the answer; the
    newest override is what counts in the attempt's total and so in the gradebook."""
    if response.question.is_examiner_marked:
        raise MarkingRefused("This answer is marked by examiners: give a mark instead.")
    # One override of an attempt at a time: two examiners' overrides apply in turn.
    attempt = Attempt.objects.select_for_update().get(pk=response.attempt_id)
    if not attempt.is_finished:
        raise MarkingRefused("This attempt is still in progress.")
    if not reason.strip():
        raise MarkingRefused("Give the reason for the new mark.")
    points = round(points_check(points, max_points=response.max_points), 2)
    current = AutoMarkOverride.objects.filter(response=response).order_by("-created_at", "-pk")
    previous = current.first()
    before = previous.points if previous is not None else response.auto_score
    override = AutoMarkOverride.objects.create(
        response=response,
        points=points,
        points_before=before,
        reason=reason.strip(),
        examiner=examiner,
    )
    _audit(
        action=AuditAction.AUTO_MARK_OVERRIDE,
        actor=examiner,
        response=response,
        before={
            "points": before,
            "auto_points": response.auto_score,
            "overridden": previous is not None,
        },
        after={"points": points, "overridden": True, "override": override.pk},
        reason=override.reason,
    )
    certificates_issue_if_eligible(attempt=attempt)
    return override


class AnswerKeyReleaseRefused(Exception):
    """The exam's key may not be released (yet); the message says why."""


@transaction.atomic
def answer_key_release(*, assessment: Assessment, by, now: dt.datetime | None = None):
    """Release an exam's answer key to its candidates: the text key, the explanations and
    the segmentation series that score its image questions (hidden from residents until now,
    the filter "assessments.series_withheld"). Only once the exam has closed and nobody
    is still sitting it; releasing marks (assessment_results_release) does not do this.
    Audited; releasing twice keeps the first moment."""
    now = now or timezone.now()
    exam = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if not exam.is_exam:
        raise AnswerKeyReleaseRefused(
            "A practice quiz gives its feedback at once: only an exam's key is released."
        )
    if exam.key_released_at is not None:
        return exam
    if exam.closes_at is None or exam.closes_at > now:
        raise AnswerKeyReleaseRefused(
            "The exam has not closed: give it a closing time; its key can be released once "
            "that time has passed."
        )
    for attempt in exam.attempts.filter(status=AttemptStatus.IN_PROGRESS):
        attempt_expire_if_overdue(attempt=attempt, now=now)
    if exam.attempts.filter(status=AttemptStatus.IN_PROGRESS).exists():
        raise AnswerKeyReleaseRefused("A candidate is still sitting the exam: try again later.")
    exam.key_released_at = now
    exam.save(update_fields=["key_released_at"])
    _audit(
        action=AuditAction.KEY_RELEASE,
        actor=by,
        assessment=exam,
        after={"key_released_at": now.isoformat()},
    )
    return exam


@transaction.atomic
def regrade_request_create(*, response: Response, resident, reason: str) -> RegradeRequest:
    """A resident asks for a released mark to be looked at again."""
    marking = _marking_locked(response)
    if response.attempt.user_id != resident.pk:
        raise MarkingRefused("Only the author of the answer may ask for a regrade.")
    action_check("regrade_request", marking.state)
    if not reason.strip():
        raise MarkingRefused("Say why the mark should be looked at again.")
    before = _snapshot(marking)
    request = RegradeRequest.objects.create(
        marking=marking,
        requested_by=resident,
        reason=reason.strip(),
        points_before=marking.released_points,
    )
    marking.state = MarkingState.REGRADE_REQUESTED
    marking.save()
    _audit(
        action=AuditAction.REGRADE_REQUEST,
        actor=resident,
        response=response,
        before=before,
        after=_snapshot(marking),
        reason=request.reason,
    )
    return request


@transaction.atomic
def regrade_resolve(*, response: Response, examiner, points: float, reason: str) -> RegradeRequest:
    """An examiner sets the new mark (possibly the same) with a reason; released at once,
    since the resident is waiting for the answer."""
    marking = _marking_locked(response)
    action_check("regrade", marking.state)
    if not reason.strip():
        raise MarkingRefused("Give the reason for the regrade decision.")
    points = points_check(points, max_points=response.max_points)
    request = marking.regrade_requests.filter(resolved_at__isnull=True).first()
    before = _snapshot(marking)
    marking.agreed_points = round(points, 2)
    marking.agreed_source = AgreementSource.REGRADE
    marking.agreed_by = examiner
    marking.agreed_reason = reason.strip()
    marking.agreed_at = timezone.now()
    marking.state = MarkingState.AGREED
    marking.save()
    _audit(
        action=AuditAction.REGRADE,
        actor=examiner,
        response=response,
        before=before,
        after=_snapshot(marking),
        reason=marking.agreed_reason,
    )
    _release(marking, by=examiner, reason="Regrade decided and released.")
    request.points_after = marking.agreed_points
    request.resolution = marking.agreed_reason
    request.resolved_by = examiner
    request.resolved_at = marking.released_at
    request.save()
    return request


# --- Gradebook ---------------------------------------------------------------------------


@transaction.atomic
def grade_override_set(
    *, resident, assessment: Assessment, percent: float, reason: str, by
) -> GradeOverride:
    """Replace a resident's percentage for one assessment, with a reason (audited)."""
    if not 0 <= percent <= 100:
        raise MarkingRefused("Give a percentage between 0 and 100.")
    if not reason.strip():
        raise MarkingRefused("Give the reason for the override.")
    previous = GradeOverride.objects.filter(resident=resident, assessment=assessment).first()
    computed = selectors.assessment_percent(user=resident, assessment=assessment)
    override = GradeOverride.objects.create(
        resident=resident,
        assessment=assessment,
        percent=round(percent, 2),
        reason=reason.strip(),
        created_by=by,
    )
    _audit(
        action=AuditAction.OVERRIDE,
        actor=by,
        assessment=assessment,
        resident=resident,
        before={
            "percent": previous.percent if previous else computed,
            "overridden": bool(previous),
        },
        after={"percent": override.percent, "overridden": True},
        reason=override.reason,
    )
    return override


# --- Certificates ------------------------------------------------------------------------


class CertificateRefused(Exception):
    pass


def certificate_issue(*, user, course) -> Certificate:
    """Issue (once) the certificate of a course whose requirements the user met.

    Synchronous: issuing writes one row, and the PDF is drawn from that row on download in
    milliseconds, so there is no long work to put on a queue and nothing to lose.
    """
    existing = selectors.certificate_for(user=user, course=course)
    if existing is not None:
        return existing
    requirements = selectors.course_requirements(user=user, course=course)
    if not requirements.met:
        raise CertificateRefused("The course's requirements are not met yet.")
    from curriculum.selectors import course_progress

    progress = course_progress(user=user, course=course)
    modules = [
        {
            "title": row.module.title,
            "outcomes": [outcome.text for outcome in row.outcomes if outcome.is_met],
        }
        for row in progress.modules
    ]
    with transaction.atomic():
        certificate, _created = Certificate.objects.get_or_create(
            user=user,
            course=course,
            defaults={
                # 32 random bytes, URL-safe: unguessable, so the code itself is the secret
                # that lets someone verify it.
                "code": secrets.token_urlsafe(32),
                "holder_name": user.get_full_name() or user.username,
                "course_title": course.title,
                "modules": modules,
            },
        )
    return certificate


def certificates_issue_if_eligible(*, attempt: Attempt) -> Certificate | None:
    """After a release: the attempt's author may just have met the course's requirements."""
    course = attempt.assessment.course
    if course is None:
        return None
    try:
        return certificate_issue(user=attempt.user, course=course)
    except CertificateRefused:
        return None
