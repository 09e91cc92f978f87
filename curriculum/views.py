"""Thin views for learning: self-enrolment, completion, progress, search."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import permissions, roles
from accounts.models import Cohort
from curriculum import selectors, services
from curriculum.models import CurriculumPage, LessonPage


@require_POST
@login_required
def course_enrol(request, course_id: int):
    course = get_object_or_404(CurriculumPage.objects.live(), pk=course_id)
    if roles.is_enrolled(request.user, course):
        return redirect(course.url)
    if not permissions.may(request.user, "curriculum.self_enrol", course):
        raise PermissionDenied(_("This course does not take self-enrolment."))
    services.course_self_enrol(user=request.user, course=course)
    messages.success(request, _("You are enrolled in %(course)s.") % {"course": course.title})
    return redirect(course.url)


@require_POST
@login_required
def lesson_complete(request, lesson_id: int):
    lesson = get_object_or_404(LessonPage.objects.live(), pk=lesson_id)
    if not permissions.may(request.user, "curriculum.mark_lesson_complete", lesson):
        raise PermissionDenied(_("You cannot mark this lesson complete."))
    services.lesson_completion_record(user=request.user, lesson=lesson)
    messages.success(request, _("Lesson marked complete."))
    _previous, following = selectors.lesson_neighbours(lesson=lesson)
    return redirect(following.url if following is not None else lesson.url)


@require_GET
@login_required
def my_progress(request):
    if not permissions.may(request.user, "curriculum.view_own_progress"):
        raise PermissionDenied
    courses = [
        selectors.course_progress(user=request.user, course=course)
        for course in selectors.courses_enrolled(user=request.user)
    ]
    return render(request, "curriculum/my_progress.html", {"courses": courses})


@require_GET
@login_required
def course_progress(request, course_id: int):
    course = get_object_or_404(CurriculumPage, pk=course_id)
    if not permissions.may(request.user, "curriculum.view_course_progress", course):
        raise PermissionDenied(_("Only educators see a course's progress."))
    cohorts = selectors.course_cohorts(course=course)
    cohort = None
    if request.GET.get("cohort"):
        cohort = get_object_or_404(Cohort, pk=request.GET["cohort"], courses=course)
    rows = selectors.course_learners_progress(course=course, cohort=cohort)
    context = {"course": course, "cohorts": cohorts, "cohort": cohort, "rows": rows}
    return render(request, "curriculum/course_progress.html", context)


@require_GET
def lesson_search(request):
    query = request.GET.get("q", "")[:200]
    results = selectors.lessons_search(user=request.user, query=query)
    return render(request, "curriculum/search.html", {"query": query, "results": results})
