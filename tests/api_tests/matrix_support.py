"""The REST API's rows of the role matrix: URL and data builders over the matrix's world."""

from __future__ import annotations

from django.urls import reverse

from tests.evaluation_tests.matrix_support import cohort_run_url


def course(context: dict):
    return context["lesson"].get_parent().get_parent()


def url(name: str, needs: str | None = None):
    """A matrix URL function for `api:<name>`, given the object it names."""

    def build(context: dict) -> str:
        if needs is None:
            return reverse(f"api:{name}")
        if needs == "course":
            return reverse(f"api:{name}", args=[course(context).pk])
        if needs == "lesson":
            return reverse(f"api:{name}", args=[context["lesson"].pk])
        if needs == "run":
            return reverse(f"api:{name}", args=[context["run"].pk])
        if needs == "cohort_run":
            cohort_run_url("run_detail")(context)  # builds the resident's finished sweep
            return reverse(f"api:{name}", args=[context["cohort_run"].pk])
        raise ValueError(needs)

    return build


def lab_run_start_data(context: dict) -> dict:
    return {
        "exercise_id": context["exercise"].pk,
        "lesson_id": context["lesson"].pk,
        "severity": 20,
    }
