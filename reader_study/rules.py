"""Who may take a reader study, open its sessions and see the cohort (issue 16).

Registered at start-up by ReaderStudyConfig.ready(); asked through accounts.permissions.
"""

from __future__ import annotations

from accounts import roles
from accounts.permissions import may_use_lesson_exercise, rule
from reader_study.selectors import lesson_reader_study_exercise_ids


@rule("reader_study.take")
def may_take(user, exercise, *, page) -> bool:
    """Anyone who may read the lesson may take a reader study the lesson embeds."""
    return may_use_lesson_exercise(
        user,
        exercise,
        page=page,
        usable=exercise.is_published,
        embedded_ids=lesson_reader_study_exercise_ids,
    )


@rule("reader_study.open_session")
def may_open_session(user, session) -> bool:
    """A reader study's ratings are the resident's own: no one else, staff included, opens
    them; educators see only the cohort's aggregate ("reader_study.view_cohort")."""
    return roles.is_signed_in(user) and session.user_id == user.pk


@rule("reader_study.answer_session")
def may_answer_session(user, session) -> bool:
    """The resident explains what they saw once every case is rated."""
    return roles.is_signed_in(user) and session.user_id == user.pk and session.is_finished


@rule("reader_study.read_answers")
def may_read_answers(user, session) -> bool:
    """A session's written answers (not its ratings) are read by the resident, educators
    and admins: they are the resident's reasoning, which teaching needs to see."""
    return roles.is_signed_in(user) and (session.user_id == user.pk or roles.oversees_runs(user))


@rule("reader_study.view_cohort")
def may_view_cohort(user, _obj=None) -> bool:
    """Educators and admins see a study's cohort aggregate (itself withheld below five)."""
    return roles.oversees_runs(user)
