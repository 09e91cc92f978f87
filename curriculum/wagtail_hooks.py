"""Wagtail hooks for the curriculum: who may open course pages, and prerequisites enforced."""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from wagtail import hooks

from accounts import permissions
from curriculum.lesson_frame import lesson_prerequisites_unmet
from curriculum.selectors import course_of
from curriculum.translation import page_text_localize


@hooks.register("before_serve_page", order=-10)
def page_in_active_language(page, request, serve_args, serve_kwargs):
    """A page with a translation in the reader's language shows its text (the same page:
    its progress, labs and quizzes are every language's; curriculum.translation)."""
    page_text_localize(page)


@hooks.register("before_serve_page")
def course_page_access_check(page, request, serve_args, serve_kwargs):
    if permissions.may(request.user, "curriculum.view_page", page):
        return None
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    raise PermissionDenied(_("You are not enrolled in this course."))


@hooks.register("before_serve_page")
def lesson_prerequisites_check(page, request, serve_args, serve_kwargs):
    """A resident who has not completed a required module is told which, not just refused."""
    unmet = lesson_prerequisites_unmet(request.user, page)
    if not unmet:
        return None
    from curriculum.selectors import course_progress

    course = course_of(page)
    progress = course_progress(user=request.user, course=course.specific)
    context = {"page": page, "unmet": unmet, "course": course, "progress": progress}
    return TemplateResponse(request, "curriculum/prerequisites_unmet.html", context, status=403)
