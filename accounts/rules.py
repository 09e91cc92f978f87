"""Who may change who is enrolled (issue 17 item 6). Registered at start-up by
AccountsConfig.ready(); asked through accounts.permissions."""

from __future__ import annotations

from accounts import roles
from accounts.permissions import rule


@rule("accounts.import_enrolments")
def may_import_enrolments(user, _obj=None) -> bool:
    """Enrolling people in courses and cohorts from a CSV is a programme admin's work."""
    return roles.is_admin(user)
