"""Who may read course pages, open lessons, enrol and see progress (issue 7).

Registered at start-up by CurriculumConfig.ready(); asked through accounts.permissions.
Other apps' "start an exercise from this lesson" rules ask "curriculum.view_page" by name.
"""

from __future__ import annotations

from accounts import roles
from accounts.permissions import may, rule
from curriculum.lesson_frame import lesson_prerequisites_unmet, page_course_id
from curriculum.selectors import lesson_has_work


@rule("curriculum.view_page")
def may_view_page(user, page) -> bool:
    """Pages outside a course are public; course pages need enrolment or a staff role."""
    course_id = page_course_id(page)
    if course_id is None:
        return True
    if roles.is_staff_role(user):
        return True
    return roles.is_resident(user) and roles.is_enrolled_in(user, course_id)


@rule("curriculum.open_lesson")
def may_open_lesson(user, page) -> bool:
    """May view the page and has completed the modules its module requires."""
    return may_view_page(user, page) and not lesson_prerequisites_unmet(user, page)


@rule("curriculum.mark_lesson_complete")
def may_mark_lesson_complete(user, lesson) -> bool:
    """Progress belongs to residents: one who may open a lesson with nothing to do in it
    (no lab, no quiz) may mark it complete; the others complete by doing their labs and
    passing their quiz, so "mark complete" is no way round them."""
    # The lesson's own blocks say whether it has work: asked first, it spares the reads
    # of enrolment and prerequisites on every lesson with a lab or a quiz.
    return (
        roles.is_resident(user)
        and not lesson_has_work(lesson)
        and may(user, "curriculum.open_lesson", lesson)
    )


@rule("curriculum.self_enrol")
def may_self_enrol(user, course) -> bool:
    """Residents may enrol themselves in a course that allows it and they are not yet in."""
    return (
        roles.is_resident(user)
        and getattr(course, "self_enrolment_allowed", False)
        and not roles.is_enrolled(user, course)
    )


@rule("curriculum.view_own_progress")
def may_view_own_progress(user, _obj=None) -> bool:
    return roles.is_signed_in(user)


@rule("curriculum.view_course_progress")
def may_view_course_progress(user, course) -> bool:
    """Educators and programme admins see every resident's progress in a course."""
    return roles.is_author(user)


@rule("curriculum.override_completion")
def may_override_completion(user, course) -> bool:
    """Educators and programme admins complete a lesson for a resident when the platform
    failed its lab (audited in curriculum.models.CompletionOverride)."""
    return roles.is_author(user)


@rule("curriculum.view_outcome_mapping")
def may_view_outcome_mapping(user, course) -> bool:
    """Programme directors (educators and programme admins) read and download how the
    course's outcomes map to the ESR curriculum and the AI syllabus roles."""
    return roles.is_author(user)
