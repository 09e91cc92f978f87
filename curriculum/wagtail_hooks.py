"""Wagtail hooks for the curriculum: course pages are served only to those who may see them."""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from wagtail import hooks

from accounts import permissions


@hooks.register("before_serve_page")
def course_page_access_check(page, request, serve_args, serve_kwargs):
    if permissions.may_view_page(request.user, page):
        return None
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    raise PermissionDenied("You are not enrolled in this course.")
