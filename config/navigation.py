"""The top navigation: which entries each visitor may follow, grouped the way a person looks
for them (Learn, Labs, Assess, then the role's own tools).

It names every app's pages, so it lives here at the top of the layers rather than in
accounts (which imports no app). Templates read `nav_items` and never test roles.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from django.contrib.auth.models import AnonymousUser
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.permissions import may


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    current: bool = False


@dataclass(frozen=True)
class NavGroup:
    """A disclosure menu of links; `current` when one of them is the page shown."""

    label: str
    links: tuple[NavLink, ...]

    @property
    def current(self) -> bool:
        return any(link.current for link in self.links)


def navigation_for(user) -> list[NavLink | NavGroup]:
    """The top navigation this user may follow: a single link for visitors, groups of links
    for people signed in (a group the user may use nothing of is left out)."""
    if not roles.is_signed_in(user):
        return list(_navigation_built(None, get_script_prefix(), get_urlconf()))
    allowed = _NavigationAllowed(
        mark=may(user, "grading.mark"),
        gradebook=may(user, "grading.view_gradebook"),
        author=roles.is_author(user),
        admin=roles.is_admin(user),
        import_enrolments=may(user, "accounts.import_enrolments"),
        audit_log=may(user, "grading.view_audit_log"),
    )
    return list(_navigation_built(allowed, get_script_prefix(), get_urlconf()))


@dataclass(frozen=True)
class _NavigationAllowed:
    """What a signed-in user's navigation depends on: the entries they may follow."""

    mark: bool
    gradebook: bool
    author: bool
    admin: bool
    import_enrolments: bool
    audit_log: bool


# Every signed-in page builds the navigation; reversing its URLs cost about a third of a
# millisecond each time, for the same few answers. The labels stay lazy (translated when
# shown), so one built navigation serves every language; the URLs depend only on the
# script prefix and URLconf, which are part of the key.
@lru_cache(maxsize=64)
def _navigation_built(
    allowed: _NavigationAllowed | None, script_prefix: str, urlconf
) -> tuple[NavLink | NavGroup, ...]:
    if allowed is None:
        return (NavLink(_("Courses"), reverse("home")),)
    learn = [
        NavLink(_("Courses"), reverse("home")),
        NavLink(_("My progress"), reverse("curriculum:my_progress")),
        NavLink(_("Search lessons"), reverse("curriculum:search")),
    ]
    labs = [
        NavLink(_("My lab runs"), reverse("labs:run_list")),
        NavLink(_("De-identification lab"), reverse("deid_lab:attempt_list")),
        NavLink(_("My cohort runs"), reverse("evaluation:run_list")),
        NavLink(_("Build a model"), reverse("model_builder:home")),
        NavLink(_("Reading room"), reverse("reading_room:run_list")),
    ]
    assess = [
        NavLink(_("Quizzes and exams"), reverse("assessments:list")),
        NavLink(_("My grades"), reverse("grading:my_grades")),
    ]
    if allowed.mark:
        assess.append(NavLink(_("Grading queue"), reverse("grading:queue")))
    if allowed.gradebook:
        assess.append(NavLink(_("Gradebook"), reverse("grading:gradebook_index")))
    teach = []
    if allowed.author:
        teach = [
            NavLink(_("Authoring"), reverse("wagtailadmin_home")),
            NavLink(_("Study library"), reverse("study_list")),
            NavLink(_("Uploaded models"), reverse("labs:uploaded_models")),
        ]
    admin = []
    if allowed.admin:
        admin.append(NavLink(_("Administration"), reverse("admin:index")))
    if allowed.import_enrolments:
        admin.append(NavLink(_("Enrol from a CSV"), reverse("enrolment_import")))
    if allowed.audit_log:
        admin.append(NavLink(_("Audit log"), reverse("grading:audit_log")))
    groups = [
        (_("Learn"), learn),
        (_("Labs"), labs),
        (_("Assess"), assess),
        (_("Teach"), teach),
        (_("Admin"), admin),
    ]
    return tuple(NavGroup(label, tuple(links)) for label, links in groups if links)


def navigation_mark_current(entries: list[NavLink | NavGroup], path: str) -> list:
    """The same entries with the page being shown marked: the link whose URL is the longest
    prefix of `path` ("/" only for the home page itself), so a run's page marks its list."""

    def matches(url: str) -> bool:
        return path == url or (url != "/" and path.startswith(url))

    links = [e for e in entries if isinstance(e, NavLink)]
    links += [link for e in entries if isinstance(e, NavGroup) for link in e.links]
    found = max((link.url for link in links if matches(link.url)), key=len, default=None)

    def mark(link: NavLink) -> NavLink:
        return replace(link, current=link.url == found)

    return [
        NavGroup(e.label, tuple(mark(link) for link in e.links))
        if isinstance(e, NavGroup)
        else mark(e)
        for e in entries
    ]


def navigation(request) -> dict:
    """Context processor: the navigation the current user may use."""
    # A request refused before the authentication middleware ran (a bad Host header: the
    # 400 page) has no user; it gets the navigation of a visitor, not a server error.
    entries = navigation_for(getattr(request, "user", None) or AnonymousUser())
    return {"nav_items": navigation_mark_current(entries, request.path)}
