"""Objects the role matrix (tests/test_role_matrix.py) needs for the model builder's URLs:
a finished training run and a labelled cohort, both the resident's, made once per test."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from model_builder.models import LabelledCohort, TrainingRun, TrainingRunStatus
from tests.model_builder_tests.support import TINY


def _training_run(context: dict) -> TrainingRun:
    if "training_run" not in context:
        context["training_run"] = TrainingRun.objects.create(
            user=context["people"]["resident"],
            title="Matrix model",
            config={**TINY, "views": 3, "test_fraction": 0.25, "labelled_cohort_pk": None},
            status=TrainingRunStatus.SUCCEEDED,
            history=[{"epoch": 1, "train_loss": 0.7, "test_loss": 0.7, "test_auc": 0.5}],
        )
    return context["training_run"]


def _cohort(context: dict) -> LabelledCohort:
    if "labelled_cohort" not in context:
        context["labelled_cohort"] = LabelledCohort.objects.create(
            owner=context["people"]["resident"], title="Matrix cohort"
        )
    return context["labelled_cohort"]


def training_run_url(name: str):
    return lambda context: reverse(f"model_builder:{name}", args=[_training_run(context).pk])


def cohort_url(name: str):
    return lambda context: reverse(f"model_builder:{name}", args=[_cohort(context).pk])


def training_form_data(context: dict) -> dict:
    return {**TINY, "title": "Matrix"}


def label_file_data(context: dict) -> dict:
    return {"labels_file": SimpleUploadedFile("labels.csv", b"study,label\n1.2.3.404,1\n")}


def trained_model_key(context: dict) -> str:
    """The zoo key of the matrix's training run (it has no model archive: no usable model)."""
    return f"trained-{_training_run(context).pk}"


def study_label_data(context: dict) -> dict:
    """Label the matrix's library study positive (a study the resident may see)."""
    from tests.studies_tests.matrix_support import library_study_pk

    return {f"label-{library_study_pk(context)}": "1"}


def _exercise(context: dict):
    """A leakage exercise embedded in the demo lesson, with the resident's two finished
    trainings of it (one per split), so its questions may be answered."""
    from model_builder.models import BuilderExercise

    if "builder_exercise" not in context:
        lesson = context["lesson"]
        exercise = BuilderExercise.objects.create(
            title="Matrix leakage", questions="What changed between the two splits?"
        )
        lesson.body.append(("model_builder", {"exercise": exercise, "introduction": ""}))
        lesson.save()
        runs = [
            TrainingRun.objects.create(
                user=context["people"]["resident"],
                title=f"Matrix {split}",
                config={**TINY, "split": split, "views": 3, "test_fraction": 0.25},
                exercise=exercise,
                lesson=lesson,
                status=TrainingRunStatus.SUCCEEDED,
            )
            for split in ("patient", "image")
        ]
        context["builder_exercise"] = (exercise, runs[-1])
    return context["builder_exercise"]


def exercise_run_create_url(context: dict) -> str:
    return reverse("model_builder:exercise_run_create", args=[_exercise(context)[0].pk])


def exercise_run_create_data(context: dict) -> dict:
    return {"lesson_id": context["lesson"].pk, "split": "patient"}


def exercise_answers_url(context: dict) -> str:
    return reverse("model_builder:run_answers", args=[_exercise(context)[1].pk])
