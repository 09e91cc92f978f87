"""Learning events, heard through the signals the apps below already send.

Django's post_save of their models (LessonCompletion, LabRun, Response, Attempt,
Assessment) and Wagtail's before_serve_page hook (xapi.wagtail_hooks): no app below imports
this one. Each receiver turns one event into one statement (xapi.services.statement_queue,
in the event's own transaction). A receiver must never break the resident's action: an
unexpected error in building a statement is logged, not raised.
"""

from __future__ import annotations

import functools
import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone

from assessments.models import FINISHED_STATUSES, Assessment, AssessmentKind, Attempt, Response
from curriculum.models import LessonCompletion, LessonPage
from labs.models import LabRun
from runs.models import RunStatus
from xapi import statements
from xapi.services import statement_queue, xapi_enabled

logger = logging.getLogger(__name__)


def _quietly(receiver):
    @functools.wraps(receiver)
    def guarded(*args, **kwargs):
        if not xapi_enabled():
            return
        try:
            # A savepoint: a failed insert rolls back the statement, not the event.
            with transaction.atomic():
                receiver(*args, **kwargs)
        except Exception:
            logger.exception("xAPI statement for %s not queued", receiver.__name__)

    return guarded


# --- Lessons ------------------------------------------------------------------------------


def lesson_viewed(*, user, lesson: LessonPage) -> None:
    now = timezone.now()
    statement_queue(
        event="lesson.viewed",
        event_key=f"{user.pk}:{lesson.pk}:{now.isoformat()}",
        user_pk=user.pk,
        verb_key="experienced",
        obj=statements.lesson_activity(lesson),
        timestamp=now,
    )


@_quietly
def lesson_completed(sender, instance: LessonCompletion, created: bool, **kwargs) -> None:
    if not created:
        return
    statement_queue(
        event="lesson.completed",
        event_key=str(instance.pk),
        user_pk=instance.user_id,
        verb_key="completed",
        obj=statements.lesson_activity(instance.lesson),
        timestamp=instance.completed_at,
        result={"completion": True},
        context={
            "platform": "Artefact",
            "extensions": {statements.extension("completed-by"): instance.source},
        },
    )


# --- Lab runs -----------------------------------------------------------------------------


@_quietly
def lab_run_saved(sender, instance: LabRun, created: bool, **kwargs) -> None:
    """Created: the resident started a run. Saved SUCCEEDED (the engine's store step
    writes the metrics in the completing transaction): the run completed."""
    if created:
        statement_queue(
            event="lab.started",
            event_key=str(instance.pk),
            user_pk=instance.user_id,
            verb_key="attempted",
            obj=statements.lab_activity(instance.exercise),
            timestamp=instance.created_at,
            context=statements.lab_run_context(instance),
        )
    elif instance.status == RunStatus.SUCCEEDED:
        statement_queue(
            event="lab.completed",
            event_key=str(instance.pk),
            user_pk=instance.user_id,
            verb_key="completed",
            obj=statements.lab_activity(instance.exercise),
            timestamp=instance.finished_at or timezone.now(),
            result={
                "completion": True,
                "duration": statements.iso_duration(
                    (instance.finished_at or timezone.now()) - instance.created_at
                ),
                "extensions": {
                    statements.extension("measured-change"): statements.measured_change(
                        instance.metrics
                    ),
                    statements.extension("metrics"): instance.metrics or {},
                },
            },
            context=statements.lab_run_context(instance),
        )


# --- Quizzes and exams --------------------------------------------------------------------


def _assessment_context(attempt: Attempt) -> dict:
    context = {
        "platform": "Artefact",
        "extensions": {statements.extension("attempt-number"): attempt.number},
    }
    if attempt.lesson_id:
        context["contextActivities"] = {
            "parent": [{"id": statements.iri("lesson", attempt.lesson_id)}]
        }
    return context


@_quietly
def response_saved(sender, instance: Response, created: bool, update_fields=None, **kwargs) -> None:
    """An answer saved (assessments.services.response_save writes `answer`). The answer
    itself is not sent (free text may name a patient or a person); a quiz's automatic score
    is, an exam's is not before its results are released."""
    if created or instance.saved_at is None or "answer" not in (update_fields or ()):
        return
    attempt = instance.attempt
    result = {"completion": True}
    if attempt.assessment.kind == AssessmentKind.QUIZ and instance.auto_score is not None:
        result.update(statements.score_result(raw=instance.auto_score, maximum=instance.max_points))
    context = _assessment_context(attempt)
    context.setdefault("contextActivities", {})["grouping" if attempt.lesson_id else "parent"] = [
        {"id": statements.iri("assessment", attempt.assessment_id)}
    ]
    statement_queue(
        event="question.answered",
        event_key=f"{instance.pk}:{instance.saved_at.isoformat()}",
        user_pk=attempt.user_id,
        verb_key="answered",
        obj=statements.question_activity(instance.question),
        timestamp=instance.saved_at,
        result=result,
        context=context,
    )


def _attempt_scored(attempt: Attempt) -> None:
    assessment = attempt.assessment
    statement_queue(
        event="assessment.scored",
        event_key=str(attempt.pk),
        user_pk=attempt.user_id,
        verb_key="scored",
        obj=statements.assessment_activity(assessment),
        timestamp=attempt.submitted_at
        if assessment.kind == AssessmentKind.QUIZ
        else timezone.now(),
        result=statements.score_result(
            raw=attempt.auto_score, maximum=attempt.max_score, pass_percent=assessment.pass_percent
        ),
        context=_assessment_context(attempt),
    )


def _released(assessment: Assessment) -> bool:
    return assessment.kind == AssessmentKind.QUIZ or (
        assessment.results_released_at is not None
        and assessment.results_released_at <= timezone.now()
    )


@_quietly
def attempt_saved(sender, instance: Attempt, created: bool, update_fields=None, **kwargs) -> None:
    """Submitted or timed out: completed; scored at once for a quiz, for an exam when its
    results are released (never before: the LRS is read by people the resident is not)."""
    if created or instance.status not in FINISHED_STATUSES:
        return
    if update_fields is not None and "status" not in update_fields:
        return
    statement_queue(
        event="assessment.completed",
        event_key=str(instance.pk),
        user_pk=instance.user_id,
        verb_key="completed",
        obj=statements.assessment_activity(instance.assessment),
        timestamp=instance.submitted_at or timezone.now(),
        result={
            "completion": True,
            "duration": statements.iso_duration(
                (instance.submitted_at or timezone.now()) - instance.started_at
            ),
            "extensions": {
                statements.extension("timed-out"): instance.status == "timed_out",
            },
        },
        context=_assessment_context(instance),
    )
    if _released(instance.assessment):
        _attempt_scored(instance)


@_quietly
def assessment_saved(sender, instance: Assessment, created: bool, **kwargs) -> None:
    """An exam's results released: every finished attempt is scored (once each)."""
    if created or instance.kind != AssessmentKind.EXAM or not _released(instance):
        return
    finished = instance.attempts.filter(status__in=FINISHED_STATUSES).select_related("assessment")
    for attempt in finished:
        _attempt_scored(attempt)


def connect() -> None:
    post_save.connect(lesson_completed, sender=LessonCompletion, dispatch_uid="xapi-lesson")
    post_save.connect(lab_run_saved, sender=LabRun, dispatch_uid="xapi-lab-run")
    post_save.connect(response_saved, sender=Response, dispatch_uid="xapi-response")
    post_save.connect(attempt_saved, sender=Attempt, dispatch_uid="xapi-attempt")
    post_save.connect(assessment_saved, sender=Assessment, dispatch_uid="xapi-assessment")
