"""Reads for the model builder."""

from __future__ import annotations

from accounts import permissions
from model_builder.models import LabelledCohort, TrainingRun, TrainingRunStatus


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
    runs = TrainingRun.objects.filter(user=user, status=TrainingRunStatus.SUCCEEDED).exclude(
        model_archive=""
    )
    return [(run.zoo_key, f"{run.title} (my model)") for run in runs]


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
    return TrainingRun.objects.select_related("user").filter(pk=pk).first()


def labelled_cohort_by_pk(pk: int) -> LabelledCohort | None:
    """The labelled cohort, or None (access: "model_builder.open_cohort")."""
    return LabelledCohort.objects.filter(pk=pk).first()
