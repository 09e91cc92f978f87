"""Who may start, see and cancel cohort runs (robustness curves, measure it, shortcut).

Registered at start-up by EvaluationConfig.ready(); asked through accounts.permissions.
"""

from __future__ import annotations

from django.db.models import Q

from accounts import roles
from accounts.permissions import may_use_lesson_exercise, rule, rule_filter
from evaluation.selectors import lesson_cohort_exercise_ids


@rule("evaluation.start_cohort_lab")
def may_start_cohort_lab(user, exercise, *, page) -> bool:
    """Anyone who may read the lesson may run a cohort lab the lesson embeds (and no other)."""
    return may_use_lesson_exercise(
        user,
        exercise,
        page=page,
        usable=exercise.is_published,
        embedded_ids=lesson_cohort_exercise_ids,
    )


@rule("evaluation.view_run")
def may_view_run(user, run) -> bool:
    """Owners see their cohort runs; educators and admins see everyone's (not examiners)."""
    return roles.may_view_run(user, run)


@rule("evaluation.cancel_run")
def may_cancel_run(user, run) -> bool:
    return roles.may_cancel_run(user, run)


@rule("evaluation.answer_run")
def may_answer_run(user, run) -> bool:
    """Only the resident who ran it answers the questions about a run (it is their work)."""
    return run.user_id == user.pk


@rule_filter("evaluation.runs")
def runs_visible(user) -> Q:
    """The cohort runs this user may list (equivalent to "evaluation.view_run")."""
    return roles.own_runs_q(user)
