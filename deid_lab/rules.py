"""Who may start, see, work on and cancel de-identification attempts.

Registered at start-up by DeidLabConfig.ready(); asked through accounts.permissions.
"""

from __future__ import annotations

from django.db.models import Q

from accounts import roles
from accounts.permissions import may_use_lesson_exercise, rule, rule_filter
from deid_lab.models import DeidAttemptStatus
from deid_lab.selectors import lesson_deid_exercise_ids


@rule("deid_lab.start_exercise")
def may_start_exercise(user, exercise, *, page) -> bool:
    """Anyone who may read the lesson may work on a de-identification exercise it embeds."""
    return may_use_lesson_exercise(
        user,
        exercise,
        page=page,
        usable=exercise.is_published,
        embedded_ids=lesson_deid_exercise_ids,
    )


@rule("deid_lab.view_attempt")
def may_view_attempt(user, attempt) -> bool:
    """Owners see their attempts; educators and admins see everyone's (not examiners)."""
    return roles.may_view_run(user, attempt)


@rule("deid_lab.work_on_attempt")
def may_work_on_attempt(user, attempt) -> bool:
    """Only the resident who owns an attempt submits its findings and runs it."""
    return attempt.user_id == user.pk


@rule("deid_lab.answer_attempt")
def may_answer_attempt(user, attempt) -> bool:
    """The resident who owns the attempt explains what they saw, once a run finished."""
    return attempt.user_id == user.pk and attempt.status == DeidAttemptStatus.SUCCEEDED


@rule("deid_lab.cancel_attempt")
def may_cancel_attempt(user, attempt) -> bool:
    return roles.may_cancel_run(user, attempt)


@rule_filter("deid_lab.attempts")
def attempts_visible(user) -> Q:
    """The attempts this user may list (equivalent to "deid_lab.view_attempt")."""
    return roles.own_runs_q(user)
