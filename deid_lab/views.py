"""Thin views for the de-identification lab: parse, ask permissions, call a service, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from wagtail.models import Page

from accounts import permissions
from deid_lab import selectors, services
from deid_lab.computation import picture_png
from deid_lab.models import DeidExercise
from deid_lab.seeding import seeded_study_build
from runs.views import (
    run_answers_context,
    run_answers_save_response,
    run_cancel_response,
    run_progress_context,
    run_status_response,
)

IMAGE_FIELDS = {"original": "original_image", "deidentified": "deidentified_image"}


@login_required
@require_GET
def attempt_list(request):
    return render(
        request,
        "deid_lab/attempt_list.html",
        {"attempts": selectors.deid_attempts_for_user(user=request.user)},
    )


@login_required
@require_POST
def attempt_create(request, exercise_pk: int):
    exercise = get_object_or_404(DeidExercise, pk=exercise_pk)
    lesson_id = request.POST.get("lesson_id", "")
    lesson = Page.objects.filter(pk=int(lesson_id)).first() if lesson_id.isdigit() else None
    if lesson is None or not permissions.may(
        request.user, "deid_lab.start_exercise", exercise, page=lesson
    ):
        raise PermissionDenied(_("You may not start this exercise here."))
    try:
        attempt = services.deid_attempt_create(user=request.user, exercise=exercise, lesson=lesson)
    except services.DeidRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(lesson.url)
    return redirect("deid_lab:attempt_detail", attempt_pk=attempt.pk)


def _attempt_context(request, attempt, *, with_header: bool = True) -> dict:
    return {
        "attempt": attempt,
        "view": selectors.deid_attempt_view(attempt=attempt, with_header=with_header),
        "may_work": permissions.may(request.user, "deid_lab.work_on_attempt", attempt),
        "may_cancel": permissions.may(request.user, "deid_lab.cancel_attempt", attempt),
        "run": attempt,
        **run_answers_context(
            request,
            run=attempt,
            may_answer=permissions.may(request.user, "deid_lab.answer_attempt", attempt),
            answers_url=reverse("deid_lab:attempt_answers", args=[attempt.pk]),
        ),
        **run_progress_context(
            run=attempt, namespace="deid_lab", result_template="deid_lab/_run_result.html"
        ),
    }


@login_required
@require_GET
def attempt_detail(request, attempt_pk: int):
    attempt = permissions.access_or_404(
        request.user, "deid_lab.view_attempt", selectors.deid_attempt_by_pk(attempt_pk)
    )
    return render(request, "deid_lab/attempt_detail.html", _attempt_context(request, attempt))


@login_required
@require_POST
def findings_submit(request, attempt_pk: int):
    attempt = permissions.access_or_404(
        request.user, "deid_lab.work_on_attempt", selectors.deid_attempt_by_pk(attempt_pk)
    )
    try:
        services.deid_findings_submit(attempt=attempt, paths=request.POST.getlist("finding"))
    except services.DeidRefused as refusal:
        messages.error(request, str(refusal))
    return redirect("deid_lab:attempt_detail", attempt_pk=attempt.pk)


@login_required
@require_POST
def run_request(request, attempt_pk: int):
    attempt = permissions.access_or_404(
        request.user, "deid_lab.work_on_attempt", selectors.deid_attempt_by_pk(attempt_pk)
    )
    try:
        services.deid_run_request(attempt=attempt, option_keys=request.POST.getlist("option"))
    except services.DeidRefused as refusal:
        messages.error(request, str(refusal))
    return redirect(reverse("deid_lab:attempt_detail", args=[attempt.pk]) + "#step-3")


@login_required
@require_GET
def run_status(request, attempt_pk: int):
    """The live part of step 3, polled by htmx until the run is final."""
    attempt = permissions.access_or_404(
        request.user, "deid_lab.view_attempt", selectors.deid_attempt_by_pk(attempt_pk)
    )
    return run_status_response(
        request,
        run=attempt,
        template="runs/_progress.html",
        context=lambda fresh: _attempt_context(request, fresh, with_header=False),
    )


@login_required
@require_POST
def attempt_answers(request, attempt_pk: int):
    """The resident's written answers to the exercise's questions, kept on the attempt."""
    attempt = permissions.access_or_404(
        request.user, "deid_lab.answer_attempt", selectors.deid_attempt_by_pk(attempt_pk)
    )
    return run_answers_save_response(
        request, run=attempt, redirect_to="deid_lab:attempt_detail", attempt_pk=attempt.pk
    )


@login_required
@require_POST
def run_cancel(request, attempt_pk: int):
    attempt = permissions.access_or_404(
        request.user, "deid_lab.cancel_attempt", selectors.deid_attempt_by_pk(attempt_pk)
    )
    return run_cancel_response(
        request, run=attempt, redirect_to="deid_lab:attempt_detail", attempt_pk=attempt.pk
    )


@login_required
@require_GET
def attempt_image(request, attempt_pk: int, which: str):
    """The seeded image (drawn on demand for step 1) or the run's before/after pictures."""
    attempt = permissions.access_or_404(
        request.user, "deid_lab.view_attempt", selectors.deid_attempt_by_pk(attempt_pk)
    )
    if which not in IMAGE_FIELDS:
        raise Http404("No such image.")
    stored = getattr(attempt, IMAGE_FIELDS[which])
    if stored:
        return FileResponse(stored.open("rb"), content_type="image/png")
    if which == "original":
        seeded = seeded_study_build(variant=attempt.exercise.variant)
        return HttpResponse(picture_png(seeded.dataset), content_type="image/png")
    raise Http404("This image is not ready.")


@login_required
@require_GET
def deidentified_download(request, attempt_pk: int):
    attempt = permissions.access_or_404(
        request.user, "deid_lab.view_attempt", selectors.deid_attempt_by_pk(attempt_pk)
    )
    if not attempt.deidentified_file:
        raise Http404("The de-identified file is not ready.")
    return FileResponse(
        attempt.deidentified_file.open("rb"),
        content_type="application/dicom",
        as_attachment=True,
        filename=f"deidentified-attempt-{attempt.pk}.dcm",
    )
