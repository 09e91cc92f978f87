"""Who may use the LTI tool's own pages (the launch endpoints themselves are open: a
platform's signed id_token is their credential)."""

from __future__ import annotations

from accounts import roles
from accounts.permissions import rule


@rule("lti.place_content")
def may_place_content(user, _obj=None) -> bool:
    """Deep Linking: educators and programme admins pick what the LMS links to."""
    return roles.is_author(user)


@rule("lti.view_roster")
def may_view_roster(user, context) -> bool:
    """An LMS course's roster: a programme admin, or an educator who teaches that course
    (an Instructor membership of their linked platform account)."""
    if roles.is_admin(user):
        return True
    return (
        roles.is_author(user)
        and context.memberships.filter(user__auth_user=user, is_instructor=True).exists()
    )
