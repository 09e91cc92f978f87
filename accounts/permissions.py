"""The one place that answers "may this user do X to this thing".

Views, templates (through `navigation_for`) and Wagtail hooks ask here; nobody else looks at
`user.role`. `access_*_by_id` helpers fetch an object and check access in one step, raising
Http404 for objects the user may not know exist (a resident must not learn that another
resident's run number 41 exists).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Enrolment, Role

if TYPE_CHECKING:
    from wagtail.models import Page

    from labs.models import LabExercise, LabRun

STAFF_ROLES = frozenset({Role.EDUCATOR, Role.EXAMINER, Role.ADMIN})


def role_of(user) -> Role | None:
    """The user's role, or None for anonymous and inactive users."""
    if not user.is_authenticated or not user.is_active:
        return None
    return Role(user.role)


def is_staff_role(user) -> bool:
    return role_of(user) in STAFF_ROLES


def may_author(user) -> bool:
    """Educators and programme admins write curricula, labs and question banks."""
    return role_of(user) in {Role.EDUCATOR, Role.ADMIN}


def may_administer(user) -> bool:
    return role_of(user) == Role.ADMIN


def course_of(page: Page) -> Page | None:
    """The Curriculum page a page belongs to (itself included), or None outside courses."""
    from curriculum.models import CurriculumPage

    return (
        CurriculumPage.objects.ancestor_of(page, inclusive=True).first() if page.depth > 1 else None
    )


def is_enrolled(user, course: Page) -> bool:
    """Enrolled directly, or through a cohort that takes the course."""
    if not user.is_authenticated:
        return False
    return (
        Enrolment.objects.filter(user=user, course=course).exists()
        or course.cohorts.filter(members=user).exists()
    )


def may_view_page(user, page: Page) -> bool:
    """Pages outside a course are public; course pages need enrolment or a staff role."""
    course = course_of(page)
    if course is None:
        return True
    if is_staff_role(user):
        return True
    return role_of(user) == Role.RESIDENT and is_enrolled(user, course)


def may_start_lab(user, *, exercise: LabExercise, page: Page) -> bool:
    """Anyone who may read the lesson may run a lab the lesson embeds (and no other)."""
    from curriculum.selectors import lesson_lab_exercise_ids

    return (
        role_of(user) is not None
        and exercise.is_runnable
        and may_view_page(user, page)
        and exercise.pk in lesson_lab_exercise_ids(page)
    )


def may_view_lab_run(user, run: LabRun) -> bool:
    """Owners see their runs; educators, examiners and admins see everyone's."""
    return run.user_id == user.pk or is_staff_role(user)


def may_cancel_lab_run(user, run: LabRun) -> bool:
    return run.user_id == user.pk or may_administer(user)


def lab_runs_visible_filter(user) -> Q:
    """A queryset filter equivalent to `may_view_lab_run` for lists."""
    if is_staff_role(user):
        return Q()
    return Q(user_id=user.pk)


def access_lab_run_by_id(user, run_pk: int, *, for_cancel: bool = False) -> LabRun:
    """The run with this pk if the user may see it (and cancel it, when asked), else 404."""
    from labs.models import LabRun

    try:
        run = LabRun.objects.select_related("exercise", "user").get(pk=run_pk)
    except LabRun.DoesNotExist:
        raise Http404(_("No such lab run.")) from None
    allowed = may_cancel_lab_run(user, run) if for_cancel else may_view_lab_run(user, run)
    if not allowed:
        raise Http404(_("No such lab run."))
    return run


def navigation_for(user) -> list[tuple[str, str]]:
    """The top navigation entries (label, url) this user may follow."""
    items = [(_("Courses"), reverse("home"))]
    role = role_of(user)
    if role is None:
        return items
    items.append((_("My lab runs"), reverse("labs:run_list")))
    if role in {Role.EDUCATOR, Role.ADMIN}:
        items.append((_("Authoring"), reverse("wagtailadmin_home")))
    if role == Role.ADMIN:
        items.append((_("Administration"), reverse("admin:index")))
    return items
