"""Objects the role matrix (tests/test_role_matrix.py) needs for grading URLs: an exam of
the demo course with an essay answered by the matrix resident, and a certificate of theirs.
Built on first use and cached in the matrix context `c`."""

from __future__ import annotations

from django.urls import reverse

from accounts.models import Role
from grading import services
from grading.models import Certificate
from tests.factories import UserFactory
from tests.grading_tests.builders import essay_exam, finished_attempt, levels


def _course(c: dict):
    return c["lesson"].get_parent().get_parent().specific


def _exam(c: dict) -> dict:
    if "grading_exam" not in c:
        exam = essay_exam(course=_course(c), title="Matrix exam")
        attempt, essay = finished_attempt(
            exam, c["people"]["resident"], text="An answer", auto_score=1.0
        )
        c["grading_exam"] = {**exam, "attempt": attempt, "essay_response": essay}
    return c["grading_exam"]


def _moderated_response(c: dict):
    """An essay of the resident's whose two marks differ too much: it awaits a moderator.
    The matrix examiner gave one of the marks (so may not moderate); the admin gave none."""
    if "grading_moderated" not in c:
        exam = essay_exam(course=_course(c), title="Matrix moderated exam")
        _attempt, essay = finished_attempt(
            exam, c["people"]["resident"], text="A disputed answer", auto_score=1.0
        )
        services.mark_submit(response=essay, examiner=c["people"]["examiner"], levels=levels(1, 3))
        other = UserFactory(username="matrix-examiner", role=Role.EXAMINER)
        services.mark_submit(response=essay, examiner=other, levels=levels(4, 5))
        c["grading_moderated"] = essay
    return c["grading_moderated"]


def moderated_response_url(c: dict) -> str:
    return reverse("grading:response_mark", args=[_moderated_response(c).pk])


def _certificate(c: dict) -> Certificate:
    if "grading_certificate" not in c:
        resident = c["people"]["resident"]
        c["grading_certificate"] = Certificate.objects.create(
            user=resident,
            course=_course(c),
            code="matrix-certificate-code",
            holder_name=resident.get_full_name(),
            course_title=_course(c).title,
            modules=[{"title": "A module", "outcomes": ["An outcome"]}],
        )
    return c["grading_certificate"]


def url(name: str, *needs: str):
    """A matrix URL function for `grading:<name>`; `needs` name the arguments, in order:
    response (the essay), auto_response (the automatically marked answer of the same
    attempt), attempt, assessment, course, resident, certificate."""

    def build(c: dict) -> str:
        values = {
            "response": lambda: _exam(c)["essay_response"].pk,
            "auto_response": lambda: _exam(c)["attempt"].responses.get(position=0).pk,
            "attempt": lambda: _exam(c)["attempt"].pk,
            "assessment": lambda: _exam(c)["assessment"].pk,
            "course": lambda: _course(c).pk,
            "resident": lambda: c["people"]["resident"].pk,
            "certificate": lambda: _certificate(c).pk,
        }
        return reverse(f"grading:{name}", args=[values[need]() for need in needs])

    return build


def verify_url(c: dict) -> str:
    return reverse("certificates:verify", args=[_certificate(c).code])


def decision_data(c: dict) -> dict:
    return {"points": "1", "reason": "Matrix decision."}


def override_data(c: dict) -> dict:
    return {
        "resident": c["people"]["resident"].pk,
        "assessment": _exam(c)["assessment"].pk,
        "percent": "75",
        "reason": "Matrix override.",
    }


def lab_run_output_url(c: dict) -> str:
    """The first picture of the matrix lab run, attached to the matrix essay answer."""
    response = _exam(c)["essay_response"]
    response.lab_runs.add(c["run"])
    return reverse("grading:response_lab_run_output", args=[response.pk, 1, "original_image"])
