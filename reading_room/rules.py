"""Who may run the triage and screening simulators and see their runs (issue 8).

Registered at start-up by ReadingRoomConfig.ready(); asked through accounts.permissions.
"""

from __future__ import annotations

from django.db.models import Q

from accounts import roles
from accounts.permissions import may_use_lesson_exercise, rule, rule_filter
from reading_room.selectors import lesson_reading_room_exercise_ids


@rule("reading_room.run_exercise")
def may_run_exercise(user, exercise, *, page) -> bool:
    """Anyone who may read the lesson may run (and prepare the scores of) an exercise the
    lesson embeds, and no other."""
    return may_use_lesson_exercise(
        user,
        exercise,
        page=page,
        usable=exercise.is_published,
        embedded_ids=lesson_reading_room_exercise_ids,
    )


@rule("reading_room.view_score_set_progress")
def may_view_score_set_progress(user, _obj=None) -> bool:
    """Progress of a cohort's scoring holds no one's data: any signed-in user may watch it."""
    return roles.is_signed_in(user)


@rule("reading_room.view_run")
def may_view_run(user, run) -> bool:
    """Owners see their simulation runs; educators and admins see everyone's (not examiners)."""
    return roles.may_view_run(user, run)


@rule("reading_room.answer_run")
def may_answer_run(user, run) -> bool:
    """Only the resident who ran the simulation explains what they saw in it."""
    return run.user_id == user.pk


@rule_filter("reading_room.runs")
def runs_visible(user) -> Q:
    """The simulation runs this user may list (equivalent to "reading_room.view_run")."""
    return roles.own_runs_q(user)
