"""Thin views for learning: self-enrolment, completion, progress, search."""

from __future__ import annotations

import dataclasses

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import permissions, roles
from accounts.csv_export import csv_writer
from accounts.models import Cohort, Role
from curriculum import selectors, services
from curriculum.models import SYLLABUS_ROLE_LABELS, SYLLABUS_ROLES, CurriculumPage, LessonPage


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


@require_http_methods(["GET", "POST"])
@login_required
def resident_lessons(request, course_id: int, user_id: int):
    """One resident's lessons in a course, and the educator's override for a lesson whose
    lab the platform failed (POST: lesson_id, reason; audited)."""
    course = get_object_or_404(CurriculumPage, pk=course_id)
    if not permissions.may(request.user, "curriculum.override_completion", course):
        raise PermissionDenied(_("Only educators complete lessons for residents."))
    resident = get_object_or_404(get_user_model(), pk=user_id, role=Role.RESIDENT)
    if request.method == "POST":
        lesson = get_object_or_404(
            LessonPage.objects.descendant_of(course), pk=request.POST.get("lesson_id") or 0
        )
        try:
            services.lesson_completion_override(
                educator=request.user,
                resident=resident,
                lesson=lesson,
                reason=request.POST.get("reason", "")[:2000],
            )
        except ValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                _("%(lesson)s completed for %(resident)s.")
                % {"lesson": lesson.title, "resident": resident},
            )
        return redirect("curriculum:resident_lessons", course_id=course.pk, user_id=resident.pk)
    progress = selectors.course_progress(user=resident, course=course)
    context = {
        "course": course,
        "resident": resident,
        "progress": progress,
        "overrides": selectors.completion_overrides(resident=resident, course=course),
    }
    return render(request, "curriculum/resident_lessons.html", context)


def _mapping_course(request, course_id: int) -> CurriculumPage:
    course = get_object_or_404(CurriculumPage, pk=course_id)
    if not permissions.may(request.user, "curriculum.view_outcome_mapping", course):
        raise PermissionDenied(_("Programme directors (educators, admins) see the mapping."))
    return course


@require_GET
@login_required
def outcome_mapping(request, course_id: int):
    course = _mapping_course(request, course_id)
    rows = selectors.outcome_mapping(course=course)
    context = {
        "course": course,
        "rows": rows,
        "coverage": selectors.mapping_coverage(rows),
        "levels": selectors.course_levels(course=course),
        "role_labels": [SYLLABUS_ROLE_LABELS[role] for role in SYLLABUS_ROLES],
    }
    return render(request, "curriculum/outcome_mapping.html", context)


@require_GET
@login_required
def outcome_mapping_csv(request, course_id: int):
    course = _mapping_course(request, course_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="outcome-mapping-{course.slug}.csv"'
    writer = csv_writer(response)
    writer.writerow(
        [
            "module",
            "lesson",
            "outcome",
            "domain",
            "esr_level",
            "esr_etc_topic",
            "esr_etc_topic_label",
            *[f"role_{role}" for role in SYLLABUS_ROLES],
        ]
    )
    for row in selectors.outcome_mapping(course=course):
        writer.writerow(
            [
                row.module,
                row.lesson,
                row.text,
                row.domain,
                row.level,
                row.etc_domain,
                row.etc_domain_label,
                *["yes" if role in row.roles else "no" for role in SYLLABUS_ROLES],
            ]
        )
    return response


@require_GET
@login_required
def outcome_mapping_json(request, course_id: int):
    course = _mapping_course(request, course_id)
    rows = selectors.outcome_mapping(course=course)
    payload = {
        "course": course.title,
        "frameworks": {
            "esr_etc_topic": "ESR European Training Curriculum, imaging informatics (our "
            "grouping of its topics; check against the edition you certify by)",
            "roles": "AAPM/ACR/RSNA/SIIM AI syllabus roles",
        },
        "outcomes": [dataclasses.asdict(row) for row in rows],
        "coverage": [dataclasses.asdict(each) for each in selectors.mapping_coverage(rows)],
    }
    response = JsonResponse(payload, json_dumps_params={"indent": 1})
    response["Content-Disposition"] = f'attachment; filename="outcome-mapping-{course.slug}.json"'
    return response
