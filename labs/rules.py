"""Who may start, see, cancel and answer lab runs, and bring their own models.

Registered at start-up by LabsConfig.ready(); asked through accounts.permissions.
"""

from __future__ import annotations

from django.db.models import Q

from accounts import roles
from accounts.permissions import may, may_use_lesson_exercise, rule, rule_filter
from labs.selectors import lesson_lab_exercise_ids

TRAINED_MODEL_PREFIX = "trained"


@rule("labs.start_lab")
def may_start_lab(user, exercise, *, page) -> bool:
    """Anyone who may read the lesson may run a lab the lesson embeds (and no other)."""
    return may_use_lesson_exercise(
        user, exercise, page=page, usable=exercise.is_runnable, embedded_ids=lesson_lab_exercise_ids
    )


@rule("labs.view_run")
def may_view_run(user, run) -> bool:
    """Owners see their runs; educators and admins see everyone's. Examiners see a
    resident's run only inside the lab report they mark (blind marking)."""
    return roles.may_view_run(user, run)


@rule("labs.cancel_run")
def may_cancel_run(user, run) -> bool:
    return roles.may_cancel_run(user, run)


@rule("labs.answer_run")
def may_answer_run(user, run) -> bool:
    """Only the resident who ran it answers the questions about a run (it is their work)."""
    return run.user_id == user.pk


@rule_filter("labs.runs")
def runs_visible(user) -> Q:
    """The lab runs this user may list (equivalent to "labs.view_run")."""
    return roles.own_runs_q(user)


@rule("labs.upload_models")
def may_upload_models(user, _obj=None) -> bool:
    """Educators and programme admins bring their own models (validated before use)."""
    return roles.is_author(user)


@rule("labs.view_model_card")
def may_view_model_card(user, model_key: str) -> bool:
    """Zoo and uploaded models' cards are for every signed-in user. The card of a model a
    resident trained ("trained-<training run pk>") names its owner and shows their labels'
    results, so the model builder decides ("model_builder.view_trained_model_card")."""
    if not roles.is_signed_in(user):
        return False
    if model_key.partition("-")[0] != TRAINED_MODEL_PREFIX:
        return True
    return may(user, "model_builder.view_trained_model_card", model_key)
