"""Who a user is, as far as access goes: their role, and the role groups rules share.

Apps' rules (`<app>/rules.py`) build on these; nobody else looks at `user.role`. Only
accounts' own models are used here, so every app may import it.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q

from accounts.models import Cohort, Enrolment, Role
from accounts.request_memo import remembered

STAFF_ROLES = frozenset({Role.EDUCATOR, Role.EXAMINER, Role.ADMIN})
# Who may open other people's runs (lab, cohort, training, de-identification, reading room).
# Examiners are not among them: under blind marking they see a resident's runs only through
# the grading page, under the candidate code (grading.views.response_lab_run_output), never
# through a run list or a run page that names the owner.
RUN_OVERSEER_ROLES = frozenset({Role.EDUCATOR, Role.ADMIN})
# Who writes curricula, labs and question banks, and decides programme matters (overrides,
# statistics, releases).
AUTHOR_ROLES = frozenset({Role.EDUCATOR, Role.ADMIN})
MARKER_ROLES = frozenset({Role.EXAMINER, Role.ADMIN})
GRADEBOOK_ROLES = frozenset({Role.EDUCATOR, Role.EXAMINER, Role.ADMIN})


def role_of(user) -> Role | None:
    """The user's role, or None for anonymous and inactive users."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return Role(user.role)


def is_signed_in(user) -> bool:
    """Signed in with an active account (any role)."""
    return role_of(user) is not None


def is_resident(user) -> bool:
    return role_of(user) == Role.RESIDENT


def is_staff_role(user) -> bool:
    return role_of(user) in STAFF_ROLES


def is_author(user) -> bool:
    """Educators and programme admins write curricula, labs and question banks."""
    return role_of(user) in AUTHOR_ROLES


def is_admin(user) -> bool:
    return role_of(user) == Role.ADMIN


def oversees_runs(user) -> bool:
    """Educators and programme admins may open anyone's runs; everyone else only their own."""
    return role_of(user) in RUN_OVERSEER_ROLES


def own_runs_q(user) -> Q:
    """A filter over any run model: the runs this user may list (see `oversees_runs`)."""
    if oversees_runs(user):
        return Q()
    if role_of(user) is None:
        return Q(pk__in=[])
    return Q(user_id=user.pk)


def may_view_run(user, run) -> bool:
    """Owners see their runs; educators and admins see everyone's. Examiners see a
    resident's run only inside the lab report they mark (blind marking)."""
    return role_of(user) is not None and (run.user_id == user.pk or oversees_runs(user))


def may_cancel_run(user, run) -> bool:
    """The owner cancels their run; a programme admin may cancel anyone's."""
    return run.user_id == user.pk or is_admin(user)


def enrolled_course_ids(user) -> list[int]:
    """The pks of the courses this user is enrolled in, directly or through a cohort, in one
    query over the enrolment and cohort tables alone (no join through the page tree: rules
    asked on every request, such as studies.rules, build on it). Read once per request
    (accounts.request_memo): a lesson page asks it from several rules and blocks."""
    if not user.is_authenticated:
        return []
    return sorted(_enrolled_ids(user.pk))


def _enrolled_ids(user_id: int) -> frozenset[int]:
    return remembered(("enrolled_course_ids", user_id), lambda: _enrolled_read(user_id))


def _enrolled_read(user_id: int) -> frozenset[int]:
    with connection.cursor() as cursor:
        cursor.execute(*enrolled_courses_sql(user_id))
        return frozenset(row[0] for row in cursor.fetchall())


def enrolled_courses_sql(user_id: int) -> tuple[str, list[int]]:
    """SQL (and its parameters) selecting the pks of the courses this user is enrolled in,
    directly or through a cohort: enrolled_course_ids as a subquery, for a filter that
    needs the courses only inside another query (one round trip less)."""
    # Plain SQL: the ORM spends longer building this union than the database answering it.
    enrolment = Enrolment._meta.db_table
    members = Cohort.members.through._meta.db_table
    cohort_courses = Cohort.courses.through._meta.db_table
    return (
        f"SELECT course_id FROM {enrolment} WHERE user_id = %s "  # noqa: S608 (table names from the models)
        f"UNION SELECT c.page_id FROM {cohort_courses} c "
        f"JOIN {members} m ON m.cohort_id = c.cohort_id WHERE m.user_id = %s",
        [user_id, user_id],
    )


def is_enrolled(user, course) -> bool:
    """Enrolled directly, or through a cohort that takes the course."""
    return is_enrolled_in(user, course.pk)


def is_enrolled_in(user, course_id: int) -> bool:
    """is_enrolled, for the course with this primary key (a caller that knows only the id
    need not read the course)."""
    if not user.is_authenticated:
        return False
    return course_id in _enrolled_ids(user.pk)
