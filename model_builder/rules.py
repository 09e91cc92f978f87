"""Who may build models, see and cancel trainings, and open labelled cohorts.

Registered at start-up by ModelBuilderConfig.ready(); asked through accounts.permissions.
"""

from __future__ import annotations

from accounts import roles
from accounts.permissions import may_use_lesson_exercise, rule
from model_builder.models import TrainingRun
from model_builder.selectors import (
    exercise_pair_finished,
    exercise_pair_for_user,
    lesson_builder_exercise_ids,
)


@rule("model_builder.build")
def may_build(user, _obj=None) -> bool:
    """Every signed-in person may build their own teaching models."""
    return roles.is_signed_in(user)


@rule("model_builder.start_exercise")
def may_start_exercise(user, exercise, *, page) -> bool:
    """Anyone who may read the lesson may train for a leakage exercise it embeds."""
    return may_use_lesson_exercise(
        user,
        exercise,
        page=page,
        usable=exercise.is_published,
        embedded_ids=lesson_builder_exercise_ids,
    )


@rule("model_builder.answer_run")
def may_answer_run(user, run) -> bool:
    """Only the resident who trained it answers the exercise's questions, once both of the
    exercise's trainings are in (the questions compare them)."""
    return (
        run.exercise_id is not None
        and run.user_id == user.pk
        and exercise_pair_finished(
            exercise_pair_for_user(user=user, exercise=run.exercise, lesson_id=run.lesson_id)
        )
    )


@rule("model_builder.view_run")
def may_view_run(user, run) -> bool:
    """Owners see their trainings; educators and admins see everyone's (not examiners)."""
    return roles.may_view_run(user, run)


@rule("model_builder.cancel_run")
def may_cancel_run(user, run) -> bool:
    return roles.may_cancel_run(user, run)


@rule("model_builder.view_trained_model_card")
def may_view_trained_model_card(user, model_key: str) -> bool:
    """A trained model's card ("trained-<training run pk>") names its owner and shows their
    labels' results, so it follows the training run: owner, educators and admins."""
    _prefix, _sep, pk = model_key.partition("-")
    run = TrainingRun.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
    return run is not None and may_view_run(user, run)


@rule("model_builder.open_cohort")
def may_open_cohort(user, cohort) -> bool:
    """A labelled cohort is its owner's alone (labels are their own work)."""
    return roles.is_signed_in(user) and cohort.owner_id == user.pk
