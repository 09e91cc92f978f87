"""Cohort-lab URLs for the role matrix (tests/test_role_matrix.py): one finished sweep of
the resident's, scored for real on 12 cases, and its exercise embedded in the demo lesson."""

from __future__ import annotations

from django.test import override_settings
from django.urls import reverse

from evaluation import services
from evaluation.models import CohortExercise


def _matrix_exercise(context: dict) -> CohortExercise:
    if "cohort_exercise" not in context:
        from tests.evaluation_tests.support import cohort_exercise_make, lesson_embed

        exercise = cohort_exercise_make(severities="0, 300")
        lesson_embed(context["lesson"], exercise)
        context["cohort_exercise"] = exercise
    return context["cohort_exercise"]


def _matrix_cohort_run(context: dict):
    if "cohort_run" not in context:
        exercise = _matrix_exercise(context)
        with override_settings(EVALUATION_CASE_LIMIT=12):
            run = services.cohort_run_create(user=context["people"]["resident"], exercise=exercise)
            services.cohort_run_execute(run_pk=run.pk)
        run.refresh_from_db()
        assert run.status == "succeeded", run.error_message
        context["cohort_run"] = run
    return context["cohort_run"]


def cohort_run_url(name: str, *extra):
    """A matrix URL function for `evaluation:<name>` on the resident's finished run."""

    def url(context: dict) -> str:
        return reverse(f"evaluation:{name}", args=[_matrix_cohort_run(context).pk, *extra])

    return url


def cohort_run_create_url(context: dict) -> str:
    return reverse("evaluation:run_create", args=[_matrix_exercise(context).pk])


def cohort_run_create_data(context: dict) -> dict:
    return {"lesson_id": context["lesson"].pk}
