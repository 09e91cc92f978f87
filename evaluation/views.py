"""Thin views for cohort labs: parse the request, ask permissions, call a service or a
selector, render. Plots are drawn on request from the stored per-case scores."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from wagtail.models import Page

from accounts import permissions
from accounts.csv_export import csv_writer
from evaluation import plots, selectors, services
from evaluation.forms import CohortRunForm, OperatingPointForm
from evaluation.measures.base import OperatingPoint
from evaluation.measures.calibration import BINS
from evaluation.models import CohortExercise, CohortExerciseKind, CohortWorstCase
from runs.answers import run_answers_posted, run_answers_rows
from runs.views import run_cancel_response, run_progress_context, run_status_response
from zoo.perturbations.registry import PERTURBATIONS


@login_required
@require_POST
def cohort_run_create(request, exercise_pk: int):
    exercise = get_object_or_404(CohortExercise, pk=exercise_pk)
    form = CohortRunForm(request.POST)
    lesson = (
        Page.objects.filter(pk=form.cleaned_data["lesson_id"]).first() if form.is_valid() else None
    )
    if lesson is None or not permissions.may(
        request.user, "evaluation.start_cohort_lab", exercise, page=lesson
    ):
        raise PermissionDenied(_("You may not run this lab here."))
    try:
        run = services.cohort_run_create(user=request.user, exercise=exercise, lesson=lesson)
    except services.CohortRunRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(lesson.url)
    return redirect("evaluation:run_detail", run_pk=run.pk)


def _run_context(request, run) -> dict:
    perturbation = PERTURBATIONS.get(run.perturbation_key)
    return {
        "run": run,
        "perturbation": perturbation,
        "may_cancel": permissions.may(request.user, "evaluation.cancel_run", run),
        "curve_rows": selectors.curve_table(run) if run.status == "succeeded" else [],
        "worst_cases": list(run.worst_cases.all()) if run.status == "succeeded" else [],
        "is_sweep": run.kind == CohortExerciseKind.SWEEP,
        "is_shortcut": run.kind == CohortExerciseKind.SHORTCUT,
        "may_answer": run.status == "succeeded"
        and permissions.may(request.user, "evaluation.answer_run", run),
        "questions": run_answers_rows(
            prompts=run.exercise.question_prompts, answers=run.answers or {}
        ),
        **run_progress_context(
            run=run, namespace="evaluation", result_template="evaluation/_cohort_run_result.html"
        ),
    }


@login_required
@require_GET
def cohort_run_detail(request, run_pk: int):
    run = permissions.access_or_404(
        request.user, "evaluation.view_run", selectors.cohort_run_by_pk(run_pk)
    )
    return render(request, "evaluation/cohort_run_detail.html", _run_context(request, run))


@login_required
@require_GET
def cohort_run_status(request, run_pk: int):
    run = permissions.access_or_404(
        request.user, "evaluation.view_run", selectors.cohort_run_by_pk(run_pk)
    )
    return run_status_response(
        request,
        run=run,
        template="runs/_progress.html",
        context=lambda fresh: _run_context(request, fresh),
    )


@login_required
@require_POST
def cohort_run_cancel(request, run_pk: int):
    run = permissions.access_or_404(
        request.user, "evaluation.cancel_run", selectors.cohort_run_by_pk(run_pk)
    )
    return run_cancel_response(request, run=run, redirect_to="evaluation:run_detail", run_pk=run.pk)


@login_required
@require_POST
def cohort_run_answers(request, run_pk: int):
    """The resident's answers to the lab's questions, kept on the run."""
    run = permissions.access_or_404(
        request.user, "evaluation.answer_run", selectors.cohort_run_by_pk(run_pk)
    )
    answers = run_answers_posted(data=request.POST, prompts=run.exercise.question_prompts)
    try:
        services.cohort_run_answers_save(run=run, answers=answers)
    except services.CohortRunRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("Your answers were saved with this run."))
    return redirect("evaluation:run_detail", run_pk=run.pk)


@login_required
@require_GET
def cohort_run_list(request):
    return render(
        request,
        "evaluation/cohort_run_list.html",
        {"runs": selectors.cohort_runs_for_user(user=request.user)},
    )


def _finished_run(request, run_pk: int):
    run = permissions.access_or_404(
        request.user, "evaluation.view_run", selectors.cohort_run_by_pk(run_pk)
    )
    if run.status != "succeeded":
        raise Http404("This run has no results yet.")
    return run


def _operating_point(request, run) -> tuple[int, OperatingPoint, list[str]]:
    """The condition, threshold and prevalence asked for; bad values fall back to the
    exercise's defaults and come back as messages the page shows."""
    form = OperatingPointForm(request.GET)
    problems: list[str] = []
    data = {}
    if form.is_valid():
        data = form.cleaned_data
    else:
        problems = [error for errors in form.errors.values() for error in errors]
        data = {name: form.cleaned_data.get(name) for name in form.fields}
    condition = data.get("condition") or 0
    if condition >= len(run.conditions):
        problems.append("There is no such condition in this run; showing the first.")
        condition = 0
    threshold = data.get("threshold")
    prevalence = data.get("prevalence_percent")
    point = OperatingPoint(
        threshold=run.exercise.threshold_default if threshold is None else threshold,
        prevalence=(run.exercise.prevalence_default if prevalence is None else prevalence / 100),
    )
    return condition, point, problems


def _measure_context(request, run) -> dict:
    condition, point, problems = _operating_point(request, run)
    view = selectors.measure_view(run=run, condition_index=condition, point=point)
    return {
        "run": run,
        "view": view,
        "problems": problems,
        "point": point,
        "prevalence_percent": round(point.prevalence * 100, 3),
        "query": f"condition={condition}&threshold={point.threshold:g}",
        "full_query": (
            f"condition={condition}&threshold={point.threshold:g}"
            f"&prevalence_percent={point.prevalence * 100:g}"
        ),
    }


@login_required
@require_GET
def measure_page(request, run_pk: int):
    run = _finished_run(request, run_pk)
    return render(request, "evaluation/measure.html", _measure_context(request, run))


@login_required
@require_GET
def measure_live(request, run_pk: int):
    """What changes as the resident moves the threshold or prevalence (htmx fragment)."""
    run = _finished_run(request, run_pk)
    return render(request, "evaluation/_measure_live.html", _measure_context(request, run))


@login_required
@require_GET
def roc_plot(request, run_pk: int):
    run = _finished_run(request, run_pk)
    condition, point, _problems = _operating_point(request, run)
    view = selectors.measure_view(run=run, condition_index=condition, point=point)
    roc = view.results.get("roc-auc")
    if roc is None:
        raise Http404("An ROC curve needs cases with and without a lesion.")
    auc = roc.row("AUC")
    svg = plots.roc_svg(
        fpr=roc.details["fpr"],
        tpr=roc.details["tpr"],
        point=view.operating_point,
        threshold=point.threshold,
        auc_text=(
            f"AUC {auc.value:.3f} (95% CI {auc.low:.3f}-{auc.high:.3f})"
            if auc.low is not None
            else f"AUC {auc.value:.3f}"
        ),
    )
    return HttpResponse(svg, content_type="image/svg+xml")


@login_required
@require_GET
def reliability_plot(request, run_pk: int):
    run = _finished_run(request, run_pk)
    condition, _point, _problems = _operating_point(request, run)
    calibration = selectors.stored_measures(run=run, condition_index=condition).get("calibration")
    if calibration is None:
        raise Http404("No calibration for this condition.")
    svg = plots.reliability_svg(
        bins=calibration.details["bins"], ece=calibration.row("ECE").value, bin_count=BINS
    )
    return HttpResponse(svg, content_type="image/svg+xml")


@login_required
@require_GET
def robustness_plot(request, run_pk: int):
    run = _finished_run(request, run_pk)
    perturbation = PERTURBATIONS.get(run.perturbation_key)
    png = plots.robustness_curve_png(
        curves=selectors.robustness_curves(run),
        severity_label=(
            f"{perturbation.title}: {perturbation.severity_unit}" if perturbation else "condition"
        ),
        title=f"{run.model_key} on {run.case_count} cases of {run.cohort_key}",
    )
    return HttpResponse(png, content_type="image/png")


@login_required
@require_GET
def worst_case_picture(request, run_pk: int, rank: int, picture: str):
    run = _finished_run(request, run_pk)
    if picture not in CohortWorstCase.PICTURES:
        raise Http404("No such picture.")
    worst = get_object_or_404(CohortWorstCase, run=run, rank=rank)
    stored = getattr(worst, picture)
    if not stored:
        raise Http404("This picture was not drawn for this run.")
    return FileResponse(stored.open("rb"), content_type="image/png")


class _Echo:
    def write(self, value):
        return value


def _csv_response(rows, filename: str) -> StreamingHttpResponse:
    writer = csv_writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def cases_csv(request, run_pk: int):
    run = _finished_run(request, run_pk)
    return _csv_response(selectors.cases_csv_rows(run), f"cohort-run-{run.pk}-cases.csv")


@login_required
@require_GET
def summary_csv(request, run_pk: int):
    run = _finished_run(request, run_pk)
    _condition, point, _problems = _operating_point(request, run)
    return _csv_response(
        selectors.summary_csv_rows(run, point=point), f"cohort-run-{run.pk}-summary.csv"
    )
