"""Thin views for grading: parse the request, ask `accounts.permissions`, call a service.

Examiner pages are addressed by the response's number, never by anything of the resident,
and name the author only as `selectors.candidate_label` allows (blind marking).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import permissions, roles
from accounts.csv_export import csv_writer
from accounts.models import Cohort
from assessments import selectors as assessment_selectors
from assessments.models import Assessment
from assessments.selectors import assessment_by_pk
from curriculum.models import CurriculumPage
from grading import selectors, services
from grading.certificate_pdf import certificate_pdf
from grading.double_marking import mark_allowed
from grading.forms import (
    AutoMarkOverrideForm,
    DecisionForm,
    MarkForm,
    OverrideForm,
    RegradeRequestForm,
)
from grading.models import MarkingState


def _require_marker(user) -> None:
    if not permissions.may(user, "grading.mark"):
        raise PermissionDenied(_("Only examiners and programme admins mark answers."))


def _markable_response(response_pk: int):
    response = (
        selectors.reviewable_responses()
        .select_related("attempt__assessment", "question")
        .filter(pk=response_pk)
        .first()
    )
    if response is None:
        raise Http404(_("No such answer to mark."))
    return response


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@require_GET
@login_required
def grading_queue(request):
    _require_marker(request.user)
    course_id = _int_or_none(request.GET.get("course"))
    assessment_id = _int_or_none(request.GET.get("assessment"))
    state = request.GET.get("state") or None
    if state not in {None, *MarkingState.values, *selectors.AUTO_STATES}:
        state = None
    rows = selectors.grading_queue(
        user=request.user, course_id=course_id, assessment_id=assessment_id, state=state
    )
    context = {
        "rows": rows,
        "courses": CurriculumPage.objects.filter(assessments__isnull=False).distinct(),
        "assessments": selectors.queue_assessments(),
        "states": [*MarkingState.choices, *selectors.AUTO_STATES.items()],
        "chosen": {"course": course_id, "assessment": assessment_id, "state": state},
    }
    return render(request, "grading/queue.html", context)


def _review_page(request, response, *, override_form=None):
    """An automatically marked answer for an examiner: the candidate's answer (on the image,
    beside the reference region), the scorer's mark and reason, and a form to override it."""
    marks = assessment_selectors.attempt_marks(attempt=response.attempt)
    mark = next(item for item in marks.items if item.response.pk == response.pk)
    paper = {
        item.response.pk: item
        for item in assessment_selectors.attempt_paper(attempt=response.attempt)
    }
    item = paper[response.pk]
    may_override = permissions.may(request.user, "grading.override_auto_mark", response)
    context = {
        "response": response,
        "attempt": response.attempt,
        "assessment": response.attempt.assessment,
        "candidate": selectors.candidate_label(response.attempt),
        "item": item,
        "mark": mark,
        "answer_key": assessment_selectors.answer_key_text(response.question),
        # Staff see the reference segmentation at any time (it is withheld from residents).
        "image_overlays": assessment_selectors.item_image_overlays(
            mark, key_released=True, label=_("Candidate's mark")
        ),
        "history": selectors.auto_mark_history(response),
        "marks_released": marks.released,
        "override_form": override_form
        or (AutoMarkOverrideForm(max_points=response.max_points) if may_override else None),
        "answers": selectors.attempt_answers(response.attempt),
    }
    return render(request, "grading/response_review.html", context)


def _marking_page(request, response, *, mark_form=None, decision_form=None):
    if not response.question.is_examiner_marked:
        return _review_page(request, response)
    marking = getattr(response, "grading_marking", None)
    criteria = selectors.rubric_criteria(selectors.rubric_for_response(response))
    own = marking.marks.filter(examiner=request.user).first() if marking else None
    state = marking.state if marking else MarkingState.UNMARKED
    may_give_mark = marking is None or mark_allowed(
        state,
        has_own_mark=own is not None,
        marks_given=marking.marks.count(),
        double_marking=marking.double_marking,
        agreed_source=marking.agreed_source,
    )
    if mark_form is None and may_give_mark:
        initial = {"feedback": own.feedback} if own else {}
        mark_form = MarkForm(criteria=criteria, max_points=response.max_points, initial=initial)
    may_moderate = state == MarkingState.MODERATION and permissions.may(
        request.user, "grading.moderate", marking
    )
    if decision_form is None and (may_moderate or state == MarkingState.REGRADE_REQUESTED):
        decision_form = DecisionForm(max_points=response.max_points)
    context = {
        "response": response,
        "attempt": response.attempt,
        "assessment": response.attempt.assessment,
        "candidate": selectors.candidate_label(response.attempt),
        "marking": marking,
        "state": state,
        "state_label": MarkingState(state).label,
        "criteria": criteria,
        "own": own,
        "marks": selectors.marks_visible_to(marking, request.user),
        "mark_form": mark_form if may_give_mark else None,
        "may_moderate": may_moderate,
        "decision_form": decision_form,
        "may_release": state == MarkingState.AGREED,
        "regrade": marking.regrade_requests.filter(resolved_at__isnull=True).first()
        if marking
        else None,
        "lab_runs": list(response.lab_runs.select_related("exercise").order_by("pk")),
        "answers": selectors.attempt_answers(response.attempt),
    }
    return render(request, "grading/response_mark.html", context)


@login_required
def response_mark(request, response_pk: int):
    """The marking page (GET) and an examiner's mark (POST)."""
    _require_marker(request.user)
    response = _markable_response(response_pk)
    if request.method != "POST":
        return _marking_page(request, response)
    criteria = selectors.rubric_criteria(selectors.rubric_for_response(response))
    form = MarkForm(request.POST, criteria=criteria, max_points=response.max_points)
    if not form.is_valid():
        return _marking_page(request, response, mark_form=form)
    try:
        marking = services.mark_submit(
            response=response,
            examiner=request.user,
            points=form.cleaned_data.get("points"),
            levels=form.levels(),
            criterion_feedback=form.criterion_feedback(),
            feedback=form.cleaned_data["feedback"],
        )
    except services.MarkingRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("grading:response_mark", response_pk=response.pk)
    messages.success(request, _("Mark saved. The answer is now: %s.") % marking.get_state_display())
    return redirect("grading:response_mark", response_pk=response.pk)


@require_GET
@login_required
def response_lab_run_output(request, response_pk: int, run_number: int, output: str):
    """A picture of a lab run attached to a lab report, for its examiners.

    Served here rather than by the labs app so that the marking page never shows a run's
    number: the run's own page names its owner, which blind marking must not reveal.
    """
    _require_marker(request.user)
    response = _markable_response(response_pk)
    runs = list(response.lab_runs.order_by("pk"))
    if not 1 <= run_number <= len(runs):
        raise Http404(_("No such lab run."))
    run = runs[run_number - 1]
    if output not in run.output_fields or not getattr(run, output):
        raise Http404(_("No such picture."))
    return FileResponse(getattr(run, output).open("rb"), content_type="image/png")


@require_POST
@login_required
def response_override(request, response_pk: int):
    """An examiner replaces an automatic mark, with a reason (audited)."""
    if not permissions.may(request.user, "grading.override_auto_mark"):
        raise PermissionDenied(_("Only examiners and programme admins override automatic marks."))
    response = _markable_response(response_pk)
    form = AutoMarkOverrideForm(request.POST, max_points=response.max_points)
    if not form.is_valid():
        return _review_page(request, response, override_form=form)
    try:
        services.auto_mark_override(
            response=response,
            examiner=request.user,
            points=form.cleaned_data["points"],
            reason=form.cleaned_data["reason"],
        )
    except services.MarkingRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request, _("Mark overridden; the attempt's total and the gradebook follow.")
        )
    return redirect("grading:response_mark", response_pk=response.pk)


@require_POST
@login_required
def response_moderate(request, response_pk: int):
    _require_marker(request.user)
    response = _markable_response(response_pk)
    form = DecisionForm(request.POST, max_points=response.max_points)
    if not form.is_valid():
        return _marking_page(request, response, decision_form=form)
    try:
        services.marking_moderate(
            response=response,
            moderator=request.user,
            points=form.cleaned_data["points"],
            reason=form.cleaned_data["reason"],
        )
    except services.MarkingRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("Agreed mark set."))
    return redirect("grading:response_mark", response_pk=response.pk)


@require_POST
@login_required
def response_release(request, response_pk: int):
    _require_marker(request.user)
    response = _markable_response(response_pk)
    try:
        services.marking_release(response=response, by=request.user)
    except services.MarkingRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("Released: the resident can now see the mark and feedback."))
    return redirect("grading:response_mark", response_pk=response.pk)


@require_POST
@login_required
def assessment_release(request, assessment_pk: int):
    """Release an exam's marks (the automatic ones and every agreed examiner mark), from the
    queue or from the exam's statistics page."""
    if not permissions.may(request.user, "grading.release_marks"):
        raise PermissionDenied(_("Examiners, educators and programme admins release marks."))
    assessment = get_object_or_404(Assessment, pk=assessment_pk)
    count = services.assessment_release(assessment=assessment, by=request.user)
    messages.success(
        request,
        _(
            "The marks of %(title)s are released: candidates see them now (%(count)d agreed "
            "examiner marks with them; answers still being marked wait). The answer key "
            "stays hidden until it is released after the exam closes."
        )
        % {"count": count, "title": assessment.title},
    )
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect(reverse("grading:queue") + f"?assessment={assessment.pk}")


@require_POST
@login_required
def answer_key_release(request, assessment_pk: int):
    """An educator's explicit, audited release of a closed exam's answer key."""
    if not permissions.may(request.user, "assessments.release_answer_key"):
        raise PermissionDenied(_("Educators and programme admins release an exam's answer key."))
    assessment = permissions.access_or_404(
        request.user, "assessments.view", assessment_by_pk(assessment_pk)
    )
    try:
        services.answer_key_release(assessment=assessment, by=request.user)
    except services.AnswerKeyReleaseRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("Candidates can now see the answer key of %s.") % assessment)
    return redirect("assessments:statistics", assessment_pk=assessment.pk)


@require_POST
@login_required
def response_regrade(request, response_pk: int):
    """An examiner decides a resident's regrade request."""
    _require_marker(request.user)
    response = _markable_response(response_pk)
    form = DecisionForm(request.POST, max_points=response.max_points)
    if not form.is_valid():
        return _marking_page(request, response, decision_form=form)
    try:
        services.regrade_resolve(
            response=response,
            examiner=request.user,
            points=form.cleaned_data["points"],
            reason=form.cleaned_data["reason"],
        )
    except services.MarkingRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("Regrade decided and released."))
    return redirect("grading:response_mark", response_pk=response.pk)


# --- The resident's side -----------------------------------------------------------------


@require_GET
@login_required
def my_grades(request):
    from curriculum.selectors import courses_enrolled

    attempts = [
        (attempt, selectors.attempt_result(attempt))
        for attempt in selectors.attempts_of(request.user)
    ]
    courses = [
        {
            "course": course,
            "requirements": selectors.course_requirements(user=request.user, course=course),
            "certificate": selectors.certificate_for(user=request.user, course=course),
        }
        for course in courses_enrolled(user=request.user)
    ]
    return render(
        request,
        "grading/my_grades.html",
        {
            "attempts": attempts,
            "courses": courses,
            "may_claim": permissions.may(request.user, "grading.claim_certificate"),
            "corrections": assessment_selectors.mark_corrections_for(user=request.user),
        },
    )


@login_required
def attempt_feedback(request, attempt_pk: int):
    attempt = permissions.access_or_404(
        request.user, "grading.view_attempt_feedback", selectors.finished_attempt_by_pk(attempt_pk)
    )
    marks = assessment_selectors.attempt_marks(attempt=attempt)
    return render(
        request,
        "grading/attempt_feedback.html",
        {
            "attempt": attempt,
            "marks": marks,
            "result": marks.as_result(),
            "rows": selectors.attempt_feedback(attempt, marks),
            "corrections": assessment_selectors.mark_corrections_for(
                user=attempt.user, attempt=attempt
            ),
            "is_author": attempt.user_id == request.user.pk,
            "regrade_form": RegradeRequestForm(),
        },
    )


@require_POST
@login_required
def regrade_request(request, response_pk: int):
    response = permissions.access_or_404(
        request.user, "grading.request_regrade", selectors.response_by_pk(response_pk)
    )
    form = RegradeRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the mark should be looked at again."))
    else:
        try:
            services.regrade_request_create(
                response=response, resident=request.user, reason=form.cleaned_data["reason"]
            )
        except services.MarkingRefused as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(request, _("Regrade requested. An examiner will look at it."))
    return redirect("grading:attempt_feedback", attempt_pk=response.attempt_id)


# --- Gradebook ---------------------------------------------------------------------------


def _gradebook_course(request, course_pk: int) -> CurriculumPage:
    if not permissions.may(request.user, "grading.view_gradebook"):
        raise PermissionDenied(_("Only educators, examiners and admins see the gradebook."))
    return get_object_or_404(CurriculumPage, pk=course_pk)


def _cohort(request, course):
    if request.GET.get("cohort", "").isdigit():
        return get_object_or_404(Cohort, pk=request.GET["cohort"], courses=course)
    return None


@require_GET
@login_required
def gradebook_index(request):
    if not permissions.may(request.user, "grading.view_gradebook"):
        raise PermissionDenied(_("Only educators, examiners and admins see the gradebook."))
    return render(
        request,
        "grading/gradebook_index.html",
        {"courses": CurriculumPage.objects.live().order_by("path")},
    )


@require_GET
@login_required
def gradebook(request, course_pk: int):
    course = _gradebook_course(request, course_pk)
    cohort = _cohort(request, course)
    return render(
        request,
        "grading/gradebook.html",
        {
            "course": course,
            "cohort": cohort,
            "cohorts": Cohort.objects.filter(courses=course).order_by("name"),
            "categories": selectors.gradebook_categories(course=course),
            "rows": selectors.course_gradebook(course=course, cohort=cohort),
        },
    )


def _percent_text(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


@require_GET
@login_required
def gradebook_csv(request, course_pk: int):
    course = _gradebook_course(request, course_pk)
    cohort = _cohort(request, course)
    categories = selectors.gradebook_categories(course=course)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="gradebook-{course.slug}.csv"'
    writer = csv_writer(response)
    header = ["username", "name"]
    for category in categories:
        header += [f"{category.name}: {a.title} (%)" for a in category.assessments.all()]
        header.append(f"{category.name} (%, weight {category.weight:g})")
    writer.writerow([*header, "course (%)", "labs finished", "labs in the course"])
    for row in selectors.course_gradebook(course=course, cohort=cohort):
        cells = [row.resident.username, row.resident.get_full_name()]
        for category_row in row.categories:
            cells += [_percent_text(grade.percent) for grade in category_row.grades]
            cells.append(_percent_text(category_row.percent))
        writer.writerow([*cells, _percent_text(row.percent), row.labs.done, row.labs.total])
    return response


@require_GET
@login_required
def gradebook_resident(request, course_pk: int, user_pk: int):
    resident = get_object_or_404(get_user_model(), pk=user_pk)
    if not permissions.may(request.user, "grading.view_resident_grades", resident):
        raise Http404(_("No such gradebook."))
    course = get_object_or_404(CurriculumPage, pk=course_pk)
    return render(
        request,
        "grading/gradebook_resident.html",
        {
            "course": course,
            "resident": resident,
            "row": selectors.resident_grades(user=resident, course=course),
            "may_override": permissions.may(request.user, "grading.override_grades"),
        },
    )


@require_POST
@login_required
def grade_override(request, course_pk: int):
    if not permissions.may(request.user, "grading.override_grades"):
        raise PermissionDenied(_("Only educators and programme admins override grades."))
    course = get_object_or_404(CurriculumPage, pk=course_pk)
    form = OverrideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a percentage between 0 and 100 and a reason."))
        resident_pk = _int_or_none(request.POST.get("resident"))
        if resident_pk is None:
            return redirect("grading:gradebook", course_pk=course.pk)
        return redirect("grading:gradebook_resident", course_pk=course.pk, user_pk=resident_pk)
    resident = get_object_or_404(get_user_model(), pk=form.cleaned_data["resident"])
    assessment = get_object_or_404(Assessment, pk=form.cleaned_data["assessment"], course=course)
    try:
        services.grade_override_set(
            resident=resident,
            assessment=assessment,
            percent=form.cleaned_data["percent"],
            reason=form.cleaned_data["reason"],
            by=request.user,
        )
    except services.MarkingRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("Override recorded."))
    return redirect("grading:gradebook_resident", course_pk=course.pk, user_pk=resident.pk)


@require_GET
@login_required
def audit_log(request):
    if not permissions.may(request.user, "grading.view_audit_log"):
        raise PermissionDenied(_("Only programme admins read the audit log."))
    assessment_id = _int_or_none(request.GET.get("assessment"))
    return render(
        request,
        "grading/audit_log.html",
        {"entries": selectors.audit_entries(assessment_id=assessment_id)},
    )


# --- Certificates ------------------------------------------------------------------------


@require_POST
@login_required
def certificate_claim(request, course_pk: int):
    if not permissions.may(request.user, "grading.claim_certificate"):
        raise PermissionDenied(_("Certificates are for residents."))
    course = get_object_or_404(CurriculumPage, pk=course_pk)
    if not roles.is_enrolled(request.user, course):
        raise Http404(_("No such course."))
    try:
        services.certificate_issue(user=request.user, course=course)
    except services.CertificateRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("Your certificate is ready."))
    return redirect("grading:my_grades")


@require_GET
@login_required
def certificate_download(request, certificate_pk: int):
    certificate = permissions.access_or_404(
        request.user, "grading.download_certificate", selectors.certificate_by_pk(certificate_pk)
    )
    verify_url = request.build_absolute_uri(reverse("certificates:verify", args=[certificate.code]))
    response = HttpResponse(
        certificate_pdf(certificate, verify_url=verify_url), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="certificate-{certificate.pk}.pdf"'
    return response


@require_GET
def certificate_verify(request, code: str):
    """Public: what the certificate states, nothing more. Unknown codes: a 404 page."""
    certificate = selectors.certificate_by_code(code)
    if certificate is None:
        return render(request, "grading/certificate_unknown.html", status=404)
    return render(request, "grading/certificate_verify.html", {"certificate": certificate})
