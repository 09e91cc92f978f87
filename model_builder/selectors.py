"""Reads for the model builder."""

from __future__ import annotations

from accounts import permissions
from model_builder.models import (
    EXERCISE_SPLITS,
    BuilderExercise,
    LabelledCohort,
    TrainingRun,
    TrainingRunStatus,
)
from runs.answers import run_answers_complete, run_answers_rows
from runs.lessons import lesson_exercise_ids


def training_runs_for_user(*, user, limit: int = 50):
    """The user's own training runs, newest first."""
    return TrainingRun.objects.filter(user=user)[:limit]


def labelled_cohorts_for_user(*, user):
    return LabelledCohort.objects.filter(owner=user)


def trained_model_usable(*, key: str):
    """The finished training run with this zoo key as a ZooModel, or None."""
    from model_builder.trained import TRAINED_KEY_PREFIX, TrainedModel

    pk = key.removeprefix(TRAINED_KEY_PREFIX)
    if not pk.isdigit():
        return None
    run = (
        TrainingRun.objects.filter(pk=int(pk), status=TrainingRunStatus.SUCCEEDED)
        .exclude(model_archive="")
        .select_related("user")
        .first()
    )
    return TrainedModel(run=run) if run is not None else None


def trained_model_choices_for_user(*, user) -> list[tuple[str, str]]:
    """(registry key, title) of this user's finished models, for a lab's model choice."""
    # Two columns, not the rows: asked on every lab lesson a resident opens, and a run's row
    # carries its whole training history.
    runs = (
        TrainingRun.objects.filter(user=user, status=TrainingRunStatus.SUCCEEDED)
        .exclude(model_archive="")
        .values_list("pk", "title")
    )
    return [(TrainingRun.zoo_key_of(pk), f"{title} (my model)") for pk, title in runs]


def leakage_pair_for_user(*, user) -> dict:
    """The user's latest finished lesion-cohort run of each split, for the leakage lesson."""
    runs = TrainingRun.objects.filter(
        user=user, status=TrainingRunStatus.SUCCEEDED, config__cohort="lesions"
    )
    return {split: runs.filter(config__split=split).first() for split in ("patient", "image")}


def studies_for_labelling(*, user, cohort: LabelledCohort):
    """Studies the user may see, each with its label in this cohort (None: not in it)."""
    from studies.models import Study

    labels = dict(cohort.labels.values_list("study_id", "label"))
    studies = Study.objects.filter(permissions.visible_q(user, "studies.studies")).order_by(
        "title", "study_instance_uid"
    )
    return [(study, labels.get(study.pk)) for study in studies]


def training_run_by_pk(pk: int) -> TrainingRun | None:
    """The training run with its owner, or None (access: "model_builder.view_run")."""
    return TrainingRun.objects.select_related("user", "exercise", "lesson").filter(pk=pk).first()


def labelled_cohort_by_pk(pk: int) -> LabelledCohort | None:
    """The labelled cohort, or None (access: "model_builder.open_cohort")."""
    return LabelledCohort.objects.filter(pk=pk).first()


# --- The leakage exercise a lesson embeds ----------------------------------------------------


def lesson_builder_exercise_ids(page) -> set[int]:
    """Primary keys of the leakage exercises a lesson embeds."""
    return lesson_exercise_ids(page, block_type="model_builder")


def exercise_pair_for_user(*, user, exercise: BuilderExercise, lesson_id: int | None) -> dict:
    """{split: the user's latest training of this exercise in this lesson with that split}
    (any status, None where they have not trained it yet)."""
    runs = TrainingRun.objects.filter(user=user, exercise=exercise, lesson_id=lesson_id)
    return {split: runs.filter(config__split=split).first() for split in EXERCISE_SPLITS}


def exercise_pair_finished(pair: dict) -> bool:
    return all(
        run is not None and run.status == TrainingRunStatus.SUCCEEDED for run in pair.values()
    )


def exercise_questions(*, run: TrainingRun) -> list[dict]:
    """The exercise's questions with this run's answers (runs.answers); [] outside one."""
    if run.exercise is None:
        return []
    return run_answers_rows(prompts=run.exercise.question_prompts, answers=run.answers or {})


def builder_exercise_done(*, runs: list[tuple[str | None, dict | None]], prompts) -> bool:
    """Whether a leakage exercise is done from these succeeded trainings of it in one lesson
    ((split, answers) per run): one with each split, and the exercise's questions (`prompts`)
    answered on one of them. The rule of lesson_builder_exercises_done, for a caller that
    read the runs with other rows (curriculum's one-query progress)."""
    seen = {split for split, _answers in runs}
    return seen >= set(EXERCISE_SPLITS) and any(
        run_answers_complete(prompts=prompts, answers=answers) for _split, answers in runs
    )


def lesson_builder_exercises_done(*, user, lesson_ids: list[int]) -> set[tuple[int, int]]:
    """(lesson id, exercise id) of the leakage exercises this user finished in these lessons:
    a succeeded training with each split, and the questions answered on one of them."""
    runs = (
        TrainingRun.objects.filter(
            user=user,
            lesson_id__in=lesson_ids,
            exercise__isnull=False,
            status=TrainingRunStatus.SUCCEEDED,
        )
        .select_related("exercise")
        .order_by("pk")
    )
    found: dict[tuple[int, int], list] = {}
    exercises = {}
    for run in runs:
        key = (run.lesson_id, run.exercise_id)
        found.setdefault(key, []).append((run.config.get("split"), run.answers))
        exercises[key] = run.exercise
    return {
        key
        for key, each in found.items()
        if builder_exercise_done(runs=each, prompts=exercises[key].question_prompts)
    }


def builder_exercise_by_pk(pk: int) -> BuilderExercise | None:
    return BuilderExercise.objects.filter(pk=pk).first()
