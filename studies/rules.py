"""Who may see the study library (per course) and who may add to it.

Registered at start-up by StudiesConfig.ready(); asked through accounts.permissions.
Series withheld during an exam (answer keys) are assessments' business: see
"assessments.series_withheld" in assessments/rules.py.
"""

from __future__ import annotations

from django.db.models import Q
from django.db.models.expressions import RawSQL

from accounts import roles
from accounts.permissions import rule, rule_filter
from studies.models import Study


@rule_filter("studies.studies")
def studies_visible(user) -> Q:
    """A filter over studies.Study: the studies this user may see.

    Staff roles see every study, quarantined ones included (they review them). A resident
    sees a published (not quarantined) study when it is made visible to a course the
    resident is enrolled in, directly or through a cohort. Anonymous users see none.
    """
    if roles.is_staff_role(user):
        return Q()
    if not roles.is_resident(user):
        return Q(pk__in=[])
    # The studies shown to the resident's courses, in plain SQL inside the search's own
    # query: the ORM spent longer building the join of studies, pages, enrolments and
    # cohorts than the database answering it, and reading the courses first cost a round
    # trip on every DICOMweb request (issue 18, item 4). Quarantine and a study's courses
    # are read live.
    courses_sql, params = roles.enrolled_courses_sql(user.pk)
    shown = Study.courses.through._meta.db_table
    # Table names from the models; the user's pk goes in as a parameter.
    sql = f"SELECT study_id FROM {shown} WHERE page_id IN ({courses_sql})"  # noqa: S608
    return Q(is_quarantined=False, pk__in=RawSQL(sql, params))  # noqa: S611


@rule("studies.view_study")
def may_view_study(user, study) -> bool:
    """Whether this user may search, view and retrieve this study (see the filter above)."""
    return Study.objects.filter(studies_visible(user), pk=study.pk).exists()


@rule("studies.store")
def may_store(user, _obj=None) -> bool:
    """Educators and programme admins add studies (STOW-RS, PACS import)."""
    return roles.is_author(user)


@rule("studies.store_without_deidentification")
def may_store_without_deidentification(user, _obj=None) -> bool:
    """Only a programme admin may declare a source already de-identified (issue 3, item 4)."""
    return roles.is_admin(user)


@rule("studies.change_courses")
def may_change_courses(user, _obj=None) -> bool:
    """Educators and programme admins decide which courses see a study."""
    return roles.is_author(user)
