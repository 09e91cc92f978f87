"""Who may see and sit quizzes and exams, open attempts, read statistics and release
results and answer keys; and which library series an exam withholds (issue 9).

Registered at start-up by AssessmentsConfig.ready(); asked through accounts.permissions.
"""

from __future__ import annotations

from django.db.models import Q

from accounts import roles
from accounts.permissions import rule, rule_filter, visible_q
from assessments.selectors import exam_answer_key_series_uids


@rule("assessments.take")
def may_take(user, assessment) -> bool:
    """Residents sit quizzes and exams; staff do not (their attempts would enter the
    statistics). The time and attempt rules are assessments.services' business."""
    if not roles.is_resident(user) or not assessment.is_published:
        return False
    return assessment.course_id is None or roles.is_enrolled_in(user, assessment.course_id)


@rule("assessments.view")
def may_view(user, assessment) -> bool:
    """Staff see every assessment; a resident sees a published one of a course they are in
    (or one that belongs to no course)."""
    if roles.is_staff_role(user):
        return True
    return roles.is_resident(user) and may_take(user, assessment)


@rule("assessments.open_own_attempt")
def may_open_own_attempt(user, attempt) -> bool:
    """An attempt is its candidate's alone here (examiners see answers, blinded, in the
    grading app): anyone else, staff included, gets 404."""
    return roles.is_signed_in(user) and attempt.user_id == user.pk


@rule("assessments.view_answer_mark")
def may_view_answer_mark(user, response) -> bool:
    """A finished answer's mark drawn for the viewer: its candidate, and the staff who mark
    and review it (the picture names nobody, so blind marking holds)."""
    if not roles.is_signed_in(user):
        return False
    return response.attempt.user_id == user.pk or roles.is_staff_role(user)


@rule("assessments.view_statistics")
def may_view_statistics(user, _obj=None) -> bool:
    """Item statistics and score distributions are for educators and programme admins."""
    return roles.is_author(user)


@rule("assessments.release_results")
def may_release_results(user, _obj=None) -> bool:
    """Educators and admins release an exam's automatic marks to its candidates."""
    return roles.is_author(user)


@rule("assessments.release_answer_key")
def may_release_answer_key(user, _obj=None) -> bool:
    """Educators and admins release an exam's answer key, once the exam has closed."""
    return roles.is_author(user)


@rule("assessments.export_question_bank")
def may_export_question_bank(user, _obj=None) -> bool:
    """The bank's export holds every answer key, exam keys not yet released included: only
    the people who author the bank (educators, programme admins) take it out, by page,
    command or API (api.export_question_bank asks this rule)."""
    return roles.is_author(user)


@rule("assessments.import_question_bank")
def may_import_question_bank(user, _obj=None) -> bool:
    """Importing writes questions into the bank: its authors only."""
    return roles.is_author(user)


@rule_filter("assessments.unreleased_answer_keys")
def unreleased_answer_keys(_user=None) -> Q:
    """A filter over studies.Series, the same for every user: the answer keys of exams whose
    key is not released yet (selectors.exam_answer_key_series_uids). Keys are dedicated
    series: lessons never show them (studies.blocks.ViewerBlock refuses them as overlays)
    and labs never use them as ground truth."""
    keys = exam_answer_key_series_uids()
    return Q(series_instance_uid__in=keys) if keys else Q(pk__in=[])


@rule_filter("assessments.series_withheld")
def series_withheld(user) -> Q:
    """A filter over studies.Series: series of visible studies withheld from this user now.

    An exam's image question is scored against a segmentation in the library. Residents
    (every resident: before, during and between attempts, and those not sitting the exam)
    must not reach it by any path until the key is released after the exam closes, so every
    DICOMweb search and retrieval, the viewer and lesson blocks leave it out (404, as if
    absent). Staff are never held back.
    """
    if not roles.is_resident(user):
        return Q(pk__in=[])
    return visible_q(user, "assessments.unreleased_answer_keys")
