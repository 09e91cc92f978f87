"""Reads of the LTI tool: the LMS courses an educator sees, a course's roster."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db.models import QuerySet
from lti_tool.models import LtiContext, LtiMembership, LtiRegistration

from accounts import roles
from assessments.models import Assessment
from curriculum.models import CurriculumPage, LessonPage, ModulePage


def context_by_pk(pk: int) -> LtiContext | None:
    return LtiContext.objects.select_related("deployment__registration").filter(pk=pk).first()


def contexts_for(user) -> QuerySet[LtiContext]:
    """The LMS courses whose roster this person may see (lti.view_roster, as a list)."""
    contexts = LtiContext.objects.select_related("deployment__registration")
    if roles.is_admin(user):
        return contexts.order_by("title")
    return contexts.filter(
        memberships__user__auth_user=user, memberships__is_instructor=True
    ).order_by("title")


def context_roster(context: LtiContext) -> QuerySet[LtiMembership]:
    return (
        LtiMembership.objects.filter(context=context)
        .select_related("user__auth_user")
        .order_by("user__family_name", "user__name", "user__sub")
    )


def placeable_content() -> dict[str, list]:
    """What an educator may place in the LMS: live courses, modules, lessons, and the
    published quizzes and exams."""
    return {
        "course": list(CurriculumPage.objects.live().order_by("title")),
        "module": list(ModulePage.objects.live().order_by("path")),
        "lesson": list(LessonPage.objects.live().order_by("path")),
        "assessment": list(Assessment.objects.filter(is_published=True).order_by("title")),
    }


def url_origin(url: str) -> str | None:
    parts = urlsplit(url or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def registration_origins(registration: LtiRegistration) -> list[str]:
    """A platform's origins (its issuer's and its authorisation endpoint's): who frames us."""
    origins = []
    for url in (registration.issuer, registration.auth_url):
        origin = url_origin(url)
        if origin and origin not in origins:
            origins.append(origin)
    return origins


def registered_origins() -> list[str]:
    origins: list[str] = []
    for registration in LtiRegistration.objects.active().only("issuer", "auth_url"):
        origins += [o for o in registration_origins(registration) if o not in origins]
    return origins
