"""Who may mark, moderate, read gradebooks and feedback, override, audit and hold
certificates (issue 9).

Marking is for examiners and programme admins; under blind marking nobody marking sees who
wrote the answer (grading.selectors.candidate_label). Residents see only their own released
marks; anything else is 404, so a resident cannot learn another's attempt exists.
Registered at start-up by GradingConfig.ready(); asked through accounts.permissions.
"""

from __future__ import annotations

from accounts import roles
from accounts.permissions import rule


@rule("grading.mark")
def may_mark(user, _obj=None) -> bool:
    """Work the grading queue: mark, release, decide regrades."""
    return roles.role_of(user) in roles.MARKER_ROLES


@rule("grading.override_auto_mark")
def may_override_auto_mark(user, _obj=None) -> bool:
    """Review an automatic mark and replace it, with a reason: the examiners and admins who
    mark (blind, as on every marking page)."""
    return may_mark(user)


@rule("grading.release_marks")
def may_release_marks(user, _obj=None) -> bool:
    """Release an exam's marks to its candidates: the markers (from the queue) and the
    educators and admins who run the exam (from its statistics page)."""
    return may_mark(user) or roles.is_author(user)


@rule("grading.moderate")
def may_moderate(user, marking) -> bool:
    """A moderator marks nothing of what they moderate: an examiner or admin, neither marker."""
    return may_mark(user) and not marking.marks.filter(examiner_id=user.pk).exists()


@rule("grading.view_gradebook")
def may_view_gradebook(user, _obj=None) -> bool:
    """Every resident's grades in a course, and the CSV export."""
    return roles.role_of(user) in roles.GRADEBOOK_ROLES


@rule("grading.override_grades")
def may_override_grades(user, _obj=None) -> bool:
    """Overrides are a programme decision: educators and programme admins."""
    return roles.is_author(user)


@rule("grading.view_audit_log")
def may_view_audit_log(user, _obj=None) -> bool:
    return roles.is_admin(user)


@rule("grading.view_resident_grades")
def may_view_resident_grades(user, resident) -> bool:
    """A resident sees their own grades; gradebook roles see everyone's."""
    return roles.is_signed_in(user) and (user.pk == resident.pk or may_view_gradebook(user))


@rule("grading.view_attempt_feedback")
def may_view_attempt_feedback(user, attempt) -> bool:
    """A finished attempt's released marks: its author, an educator or an admin. Examiners
    read answers through the blind marking pages instead."""
    return roles.is_signed_in(user) and (attempt.user_id == user.pk or roles.is_author(user))


@rule("grading.request_regrade")
def may_request_regrade(user, response) -> bool:
    """Only the author asks for a regrade of their own examiner-marked answer."""
    return roles.is_resident(user) and response.attempt.user_id == user.pk


@rule("grading.claim_certificate")
def may_claim_certificate(user, _obj=None) -> bool:
    return roles.is_resident(user)


@rule("grading.download_certificate")
def may_download_certificate(user, certificate) -> bool:
    """The holder, educators and admins may download a certificate's PDF."""
    return roles.is_signed_in(user) and (certificate.user_id == user.pk or roles.is_author(user))
