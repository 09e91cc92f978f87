"""Who may use the REST API and manage API tokens.

The API's resources ask the same rules as the pages (labs.view_run, grading.view_gradebook,
...); only what is the API's own is declared here.
"""

from __future__ import annotations

from accounts import permissions, roles
from accounts.permissions import rule


@rule("api.manage_own_tokens")
def may_manage_own_tokens(user, _obj=None) -> bool:
    """Every signed-in person may make tokens for themselves (they act as that person)."""
    return roles.is_signed_in(user)


@rule("api.export_question_bank")
def may_export_question_bank(user, _obj=None) -> bool:
    """The bank holds the answer keys: the same rule as the bank's QTI export page."""
    return permissions.may(user, "assessments.export_question_bank")
