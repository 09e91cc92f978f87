"""Reads for the curriculum."""

from accounts import permissions
from curriculum.models import CurriculumPage


def courses_for_user(*, user, index) -> list[CurriculumPage]:
    """Live courses under the index, each marked with whether this user may open it."""
    courses = list(CurriculumPage.objects.child_of(index).live().specific().order_by("path"))
    for course in courses:
        course.user_may_open = permissions.may_view_page(user, course)
    return courses


def lesson_lab_exercise_ids(page) -> set[int]:
    """Primary keys of the lab exercises a lesson embeds (deleted ones are skipped)."""
    body = getattr(page.specific, "body", None) or []
    return {
        block.value["exercise"].pk
        for block in body
        if block.block_type == "lab" and block.value.get("exercise") is not None
    }
