"""Thin views: ask accounts.permissions, call a service or selector, render."""

from __future__ import annotations

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import permissions
from assessments import selectors, services
from assessments.mark_images import answer_mark_png
from assessments.models import AttemptStatus, QuestionKind
from assessments.qti.reader import MAX_UPLOAD_BYTES
from assessments.scoring.base import AnswerError


@login_required
@require_GET
def assessment_list(request):
    assessments = selectors.assessments_for_user(user=request.user)
    for assessment in assessments:
        assessment.my_attempts = list(
            selectors.attempts_of_user(user=request.user, assessment=assessment)
        )
    return render(
        request,
        "assessments/assessment_list.html",
        {
            "assessments": assessments,
            "may_view_statistics": permissions.may(request.user, "assessments.view_statistics"),
        },
    )


@login_required
@require_GET
def assessment_detail(request, assessment_pk: int):
    assessment = permissions.access_or_404(
        request.user, "assessments.view", selectors.assessment_by_pk(assessment_pk)
    )
    now = timezone.now()
    may_take = permissions.may(request.user, "assessments.take", assessment)
    attempts = []
    in_progress = None
    refusal = ""
    if may_take:
        in_progress = services.attempt_in_progress(
            assessment=assessment, user=request.user, now=now
        )
        attempts = list(selectors.attempts_of_user(user=request.user, assessment=assessment))
        if in_progress is None:
            refusal = services.assessment_availability_error(
                assessment=assessment, user=request.user, now=now
            )
    return render(
        request,
        "assessments/assessment_detail.html",
        {
            "assessment": assessment,
            "may_take": may_take,
            "attempts": attempts,
            "in_progress": in_progress,
            "refusal": refusal,
            "question_count": assessment.items.count(),
            "may_view_statistics": permissions.may(request.user, "assessments.view_statistics"),
        },
    )


@login_required
@require_POST
def attempt_start(request, assessment_pk: int):
    assessment = permissions.access_or_404(
        request.user, "assessments.view", selectors.assessment_by_pk(assessment_pk)
    )
    if not permissions.may(request.user, "assessments.take", assessment):
        raise PermissionDenied(_("Only residents of the course take this assessment."))
    lesson = None
    lesson_id = request.POST.get("lesson_id", "")
    if lesson_id.isdigit():
        # The curriculum sits above assessments: its lesson model is named, not imported.
        lesson_model = apps.get_model("curriculum", "LessonPage")
        lesson = lesson_model.objects.filter(pk=int(lesson_id)).first()
        if lesson is not None and not permissions.may(
            request.user, "curriculum.open_lesson", lesson
        ):
            lesson = None
    try:
        attempt = services.attempt_start(assessment=assessment, user=request.user, lesson=lesson)
    except services.AttemptRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("assessments:detail", assessment_pk=assessment.pk)
    return redirect("assessments:attempt", attempt_pk=attempt.pk)


def _attempt_context(request, attempt) -> dict:
    items = selectors.attempt_paper_for_answering(attempt=attempt)
    return {
        "attempt": attempt,
        "assessment": attempt.assessment,
        "items": items,
        "now": timezone.now(),
        "lab_runs": _own_lab_runs(request.user, items),
        "likert": selectors.LIKERT_VALUES,
    }


def _own_lab_runs(user, items):
    if not any(item.question.kind == QuestionKind.LAB_REPORT for item in items):
        return []
    from labs.models import LabRun, LabRunStatus

    return list(
        LabRun.objects.filter(user=user, status=LabRunStatus.SUCCEEDED)
        .select_related("exercise")
        .order_by("-created_at")[:30]
    )


@login_required
@require_GET
def attempt_page(request, attempt_pk: int):
    attempt = permissions.access_or_404(
        request.user, "assessments.open_own_attempt", selectors.attempt_by_pk(attempt_pk)
    )
    attempt = services.attempt_expire_if_overdue(attempt=attempt)
    if attempt.is_finished:
        if attempt.status == AttemptStatus.TIMED_OUT:
            messages.info(request, _("Time was up: the answers saved in time were submitted."))
        return redirect("assessments:result", attempt_pk=attempt.pk)
    return render(request, "assessments/attempt.html", _attempt_context(request, attempt))


@login_required
@require_POST
def response_save(request, attempt_pk: int, position: int):
    """Autosave (htmx, one question's form) or a plain form post; same service."""
    attempt = permissions.access_or_404(
        request.user, "assessments.open_own_attempt", selectors.attempt_by_pk(attempt_pk)
    )
    if not attempt.responses.filter(position=position).exists():
        raise Http404(_("No such question in this attempt."))
    htmx = request.headers.get("HX-Request") == "true"
    error = ""
    try:
        services.response_save(attempt=attempt, position=position, form=dict(request.POST.lists()))
    except services.AttemptRefused as refusal:
        if not htmx:
            messages.error(request, str(refusal))
            return redirect("assessments:result", attempt_pk=attempt.pk)
        response = HttpResponse(str(refusal))
        response["HX-Redirect"] = reverse("assessments:result", args=[attempt.pk])
        return response
    except AnswerError as problem:
        error = str(problem)
    attempt.refresh_from_db()
    if not htmx:
        if error:
            messages.error(
                request,
                _("Question %(number)d: %(error)s") % {"number": position + 1, "error": error},
            )
        else:
            messages.success(request, _("Question %(number)d saved.") % {"number": position + 1})
        return redirect(reverse("assessments:attempt", args=[attempt.pk]) + f"#q{position + 1}")
    item = next(
        i for i in _attempt_context(request, attempt)["items"] if i.response.position == position
    )
    # 200 even for a refused answer: htmx swaps only successful responses, and the
    # resident must read why the answer was not saved.
    return render(
        request, "assessments/_save_status.html", {"item": item, "error": error, "attempt": attempt}
    )


def _safe_next(request, value: str) -> str:
    """`value` if it is a path on this site (a lesson's quiz), else ""."""
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()}):
        return value
    return ""


@login_required
@require_GET
def attempt_review(request, attempt_pk: int):
    """The last look before submitting: which questions have a saved answer, which not."""
    attempt = permissions.access_or_404(
        request.user, "assessments.open_own_attempt", selectors.attempt_by_pk(attempt_pk)
    )
    attempt = services.attempt_expire_if_overdue(attempt=attempt)
    if attempt.is_finished:
        return redirect("assessments:result", attempt_pk=attempt.pk)
    back = _safe_next(request, request.GET.get("next", ""))
    attempt_url = reverse("assessments:attempt", args=[attempt.pk])
    items = selectors.attempt_paper(attempt=attempt)
    for item in items:
        # A lesson's quiz is answered on the lesson page; an exam on its own page.
        item.back_url = back or f"{attempt_url}#q{item.number}"
    unanswered = [item.number for item in items if not item.response.is_answered]
    return render(
        request,
        "assessments/attempt_review.html",
        {
            "attempt": attempt,
            "assessment": attempt.assessment,
            "items": items,
            "unanswered": unanswered,
            "back": back or attempt_url,
            "next": back,
        },
    )


@login_required
@require_POST
def attempt_submit(request, attempt_pk: int):
    attempt = permissions.access_or_404(
        request.user, "assessments.open_own_attempt", selectors.attempt_by_pk(attempt_pk)
    )
    already = attempt.is_finished
    attempt = services.attempt_submit(attempt=attempt)
    back = _safe_next(request, request.POST.get("next", ""))
    if back:
        return redirect(back)
    if attempt.status == AttemptStatus.TIMED_OUT and not already:
        messages.info(request, _("Time was up: the answers saved in time were submitted."))
    elif not already:
        messages.success(request, _("Your answers were submitted."))
    return redirect("assessments:result", attempt_pk=attempt.pk)


@login_required
@require_GET
def attempt_result(request, attempt_pk: int):
    attempt = permissions.access_or_404(
        request.user, "assessments.open_own_attempt", selectors.attempt_by_pk(attempt_pk)
    )
    attempt = services.attempt_expire_if_overdue(attempt=attempt)
    if not attempt.is_finished:
        return redirect("assessments:attempt", attempt_pk=attempt.pk)
    marks = selectors.attempt_marks(attempt=attempt)
    return render(
        request,
        "assessments/attempt_result.html",
        {
            "attempt": attempt,
            "assessment": attempt.assessment,
            "marks": marks,
            "items": selectors.attempt_result_items(marks=marks),
            "result": marks.as_result(),
        },
    )


@login_required
@require_GET
def answer_mark(request, response_pk: int):
    """A finished image answer's mark as a label-map PNG for the viewer (see mark_images)."""
    response = permissions.access_or_404(
        request.user, "assessments.view_answer_mark", selectors.finished_response_by_pk(response_pk)
    )
    png = answer_mark_png(response)
    if png is None:
        raise Http404(_("This answer has no mark on an image."))
    http_response = HttpResponse(png, content_type="image/png")
    http_response["Cache-Control"] = "private, no-store"
    return http_response


@login_required
@require_GET
def assessment_statistics(request, assessment_pk: int):
    if not permissions.may(request.user, "assessments.view_statistics"):
        raise PermissionDenied(_("Statistics are for educators and programme admins."))
    assessment = permissions.access_or_404(
        request.user, "assessments.view", selectors.assessment_by_pk(assessment_pk)
    )
    statistics = selectors.assessment_statistics(assessment=assessment)
    return render(
        request,
        "assessments/assessment_statistics.html",
        {
            "assessment": assessment,
            "statistics": statistics,
            "may_release": permissions.may(request.user, "assessments.release_results"),
        },
    )


@login_required
@require_GET
def score_distribution(request, assessment_pk: int):
    if not permissions.may(request.user, "assessments.view_statistics"):
        raise PermissionDenied(_("Statistics are for educators and programme admins."))
    assessment = permissions.access_or_404(
        request.user, "assessments.view", selectors.assessment_by_pk(assessment_pk)
    )
    statistics = selectors.assessment_statistics(assessment=assessment)
    svg = selectors.score_distribution_svg(statistics=statistics)
    return HttpResponse(svg, content_type="image/svg+xml")


# --- Question bank interchange (IMS QTI 2.1) ------------------------------------------------

QTI_PACKAGE_NAME = "artefact-question-bank-qti21.zip"


@login_required
@require_GET
def question_bank_export(request):
    """The bank (or ?pool=) as a QTI 2.1 content package: every answer key, so authors only."""
    if not permissions.may(request.user, "assessments.export_question_bank"):
        raise PermissionDenied(_("Only the bank's authors export it: it holds the answer keys."))
    package = selectors.question_bank_qti_package(pool=request.GET.get("pool", "").strip())
    response = HttpResponse(package.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{QTI_PACKAGE_NAME}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def question_bank_import(request):
    """Upload a QTI 2.1 content package; all its items become questions, or none do and
    each problem is listed."""
    if not permissions.may(request.user, "assessments.import_question_bank"):
        raise PermissionDenied(_("Only the bank's authors import questions into it."))
    report = None
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("package")
        if upload is None:
            error = _("Choose a QTI content package (.zip) to import.")
        elif upload.size > MAX_UPLOAD_BYTES:
            error = _("The package is larger than %(mb)d MB.") % {
                "mb": MAX_UPLOAD_BYTES // (1024 * 1024)
            }
        else:
            report = services.question_bank_import(package=upload.read(MAX_UPLOAD_BYTES + 1))
    return render(
        request,
        "assessments/question_bank_import.html",
        {
            "report": report,
            "error": error,
            "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
            "may_export": permissions.may(request.user, "assessments.export_question_bank"),
        },
        status=400 if error or (report and not report.imported) else 200,
    )
