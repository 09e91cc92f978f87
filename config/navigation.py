"""The top navigation: which entries each visitor may follow.

It names every app's pages, so it lives here at the top of the layers rather than in
accounts (which imports no app). Templates read `nav_items` and never test roles.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.permissions import may


def navigation_for(user) -> list[tuple[str, str]]:
    """The top navigation entries (label, url) this user may follow."""
    items = [(_("Courses"), reverse("home"))]
    if not roles.is_signed_in(user):
        return items
    items.append((_("My progress"), reverse("curriculum:my_progress")))
    items.append((_("Search lessons"), reverse("curriculum:search")))
    items.append((_("My lab runs"), reverse("labs:run_list")))
    items.append((_("De-identification lab"), reverse("deid_lab:attempt_list")))
    items.append((_("My cohort runs"), reverse("evaluation:run_list")))
    items.append((_("Build a model"), reverse("model_builder:home")))
    items.append((_("Reading room"), reverse("reading_room:run_list")))
    items.append((_("My grades"), reverse("grading:my_grades")))
    items.append((_("Quizzes and exams"), reverse("assessments:list")))
    if may(user, "grading.mark"):
        items.append((_("Grading queue"), reverse("grading:queue")))
    if may(user, "grading.view_gradebook"):
        items.append((_("Gradebook"), reverse("grading:gradebook_index")))
    if may(user, "grading.view_audit_log"):
        items.append((_("Audit log"), reverse("grading:audit_log")))
    if roles.is_author(user):
        items.append((_("Authoring"), reverse("wagtailadmin_home")))
        items.append((_("Study library"), reverse("study_list")))
        items.append((_("Uploaded models"), reverse("labs:uploaded_models")))
    if roles.is_admin(user):
        items.append((_("Administration"), reverse("admin:index")))
    return items


def navigation(request) -> dict:
    """Context processor: the navigation the current user may use."""
    # A request refused before the authentication middleware ran (a bad Host header: the
    # 400 page) has no user; it gets the navigation of a visitor, not a server error.
    return {"nav_items": navigation_for(getattr(request, "user", None) or AnonymousUser())}
