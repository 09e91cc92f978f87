"""Objects the role matrix (tests/test_role_matrix.py) needs for the de-identification lab.

Built lazily and cached in the matrix context `c`: a lesson embedding a DeidExercise in the
demo course (the resident is enrolled, the outsider is not) and a finished attempt of the
resident's with its pictures and file stored.
"""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.urls import reverse

from deid_lab.models import DeidAttemptStatus, DeidExercise
from deid_lab.services import deid_attempt_create


def deid_lesson_make(*, module, exercise: DeidExercise, slug: str = "deid-lab-lesson"):
    """A published lesson under `module` whose body embeds `exercise`."""
    from curriculum.models import LessonPage

    lesson = LessonPage(
        slug=slug,
        title="De-identification lab",
        body=[{"type": "deid", "value": {"exercise": exercise.pk, "introduction": "Try it."}}],
    )
    module.add_child(instance=lesson)
    lesson.save_revision().publish()
    return LessonPage.objects.get(pk=lesson.pk)


def deid_context(c: dict) -> dict:
    if "deid" not in c:
        exercise = DeidExercise.objects.create(title="Matrix exercise", variant="declared")
        lesson = deid_lesson_make(module=c["lesson"].get_parent(), exercise=exercise)
        attempt = deid_attempt_create(
            user=c["people"]["resident"], exercise=exercise, lesson=lesson
        )
        attempt.status = DeidAttemptStatus.SUCCEEDED
        attempt.deidentified_image.save("deidentified.png", ContentFile(b"\x89PNG"), save=False)
        attempt.deidentified_file.save("deidentified.dcm", ContentFile(b"DICM"), save=False)
        attempt.save()
        c["deid"] = {"exercise": exercise, "lesson": lesson, "attempt": attempt}
    return c["deid"]


def deid_url(name: str, *extra):
    """A matrix URL function for the deid_lab route `name`."""

    def url(c: dict) -> str:
        context = deid_context(c)
        if name == "attempt_list":
            return reverse("deid_lab:attempt_list")
        if name == "attempt_create":
            return reverse("deid_lab:attempt_create", args=[context["exercise"].pk])
        return reverse(f"deid_lab:{name}", args=[context["attempt"].pk, *extra])

    return url


def deid_create_data(c: dict) -> dict:
    return {"lesson_id": deid_context(c)["lesson"].pk}
