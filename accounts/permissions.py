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


def may_upload_models(user) -> bool:
    """Educators and programme admins bring their own models (validated before use)."""
    return may_author(user)


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


# --- Curriculum delivery (issue 7) --------------------------------------------------------


def may_self_enrol(user, course: Page) -> bool:
    """Residents may enrol themselves in a course that allows it and they are not yet in."""
    return (
        role_of(user) == Role.RESIDENT
        and getattr(course, "self_enrolment_allowed", False)
        and not is_enrolled(user, course)
    )


def lesson_prerequisites_unmet(user, page: Page) -> list[Page]:
    """Modules a resident must complete before opening this lesson; staff are never held back.

    Empty for pages that are not lessons (a module page stays readable and lists what it
    needs) and for staff roles.
    """
    from curriculum.models import LessonPage, ModulePage
    from curriculum.selectors import unmet_prerequisites

    if role_of(user) != Role.RESIDENT or page.specific_class is not LessonPage:
        return []
    module = ModulePage.objects.filter(pk=page.get_parent().pk).first()
    if module is None:
        return []
    return unmet_prerequisites(user=user, module=module)


def may_open_lesson(user, page: Page) -> bool:
    """May view the page and has completed the modules its module requires."""
    return may_view_page(user, page) and not lesson_prerequisites_unmet(user, page)


def may_mark_lesson_complete(user, lesson: Page) -> bool:
    """Progress belongs to residents: one who may open the lesson may mark it complete."""
    return role_of(user) == Role.RESIDENT and may_open_lesson(user, lesson)


def may_view_own_progress(user) -> bool:
    return role_of(user) is not None


def may_view_course_progress(user, course: Page) -> bool:
    """Educators and programme admins see every resident's progress in a course."""
    return role_of(user) in {Role.EDUCATOR, Role.ADMIN}


def navigation_for(user) -> list[tuple[str, str]]:
    """The top navigation entries (label, url) this user may follow."""
    items = [(_("Courses"), reverse("home"))]
    role = role_of(user)
    if role is None:
        return items
    items.append((_("My progress"), reverse("curriculum:my_progress")))
    items.append((_("Search lessons"), reverse("curriculum:search")))
    items.append((_("My lab runs"), reverse("labs:run_list")))
    if role in {Role.EDUCATOR, Role.ADMIN}:
        items.append((_("Authoring"), reverse("wagtailadmin_home")))
        items.append((_("Study library"), reverse("study_list")))
        items.append((_("Uploaded models"), reverse("labs:uploaded_models")))
    if role == Role.ADMIN:
        items.append((_("Administration"), reverse("admin:index")))
    return items


# --- Studies (studies.models): per-course visibility of the study library -----------------


def studies_visible_filter(user) -> Q:
    """A filter over studies.Study: the studies this user may see.

    Staff roles see every study, quarantined ones included (they review them). A resident
    sees a published (not quarantined) study when it is made visible to a course the
    resident is enrolled in, directly or through a cohort. Anonymous users see none.
    """
    from studies.models import Study

    role = role_of(user)
    if role in STAFF_ROLES:
        return Q()
    if role != Role.RESIDENT:
        return Q(pk__in=[])
    through_courses = Study.objects.filter(
        Q(courses__enrolments__user=user) | Q(courses__cohorts__members=user)
    ).values("pk")
    return Q(is_quarantined=False, pk__in=through_courses)


def may_view_study(user, study) -> bool:
    """Whether this user may search, view and retrieve this study (see the filter above)."""
    from studies.models import Study

    return Study.objects.filter(studies_visible_filter(user), pk=study.pk).exists()


def may_store_studies(user) -> bool:
    """Educators and programme admins add studies (STOW-RS, PACS import)."""
    return may_author(user)


def may_store_without_deidentification(user) -> bool:
    """Only a programme admin may declare a source already de-identified (issue 3, item 4)."""
    return may_administer(user)


def may_change_study_courses(user) -> bool:
    """Educators and programme admins decide which courses see a study."""
    return may_author(user)


def access_study_by_uid(user, study_instance_uid: str):
    """The study with this UID if the user may see it, else Http404 (never 403: a resident
    must not learn that a study outside their courses exists)."""
    from studies.models import Study

    study = Study.objects.filter(
        studies_visible_filter(user), study_instance_uid=study_instance_uid
    ).first()
    if study is None:
        raise Http404(_("No such study."))
    return study
