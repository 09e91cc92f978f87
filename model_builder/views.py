"""Thin views for the no-code model builder: parse, ask permissions, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from wagtail.models import Page

from accounts import permissions
from model_builder import selectors, services
from model_builder.forms import CohortForm, LabelFileForm, TrainingRunForm
from model_builder.own_studies import LabelFileRefused
from model_builder.plots import learning_curves_svg
from runs.answers import run_answers_posted
from runs.views import run_cancel_response, run_progress_context, run_status_response


def _builder_allowed(request) -> None:
    if not permissions.may(request.user, "model_builder.build"):
        raise PermissionDenied(_("Sign in to build a model."))


def _home_render(request, form: TrainingRunForm, *, status: int = 200):
    return render(
        request,
        "model_builder/home.html",
        {
            "form": form,
            "runs": selectors.training_runs_for_user(user=request.user),
            "cohorts": selectors.labelled_cohorts_for_user(user=request.user),
            "cohort_form": CohortForm(),
        },
        status=status,
    )


@login_required
@require_GET
def builder_home(request):
    _builder_allowed(request)
    cohorts = selectors.labelled_cohorts_for_user(user=request.user)
    return _home_render(request, TrainingRunForm(cohorts=cohorts))


@login_required
@require_POST
def training_run_create(request):
    _builder_allowed(request)
    cohorts = selectors.labelled_cohorts_for_user(user=request.user)
    form = TrainingRunForm(request.POST, cohorts=cohorts)
    if not form.is_valid():
        return _home_render(request, form, status=400)
    try:
        run = services.training_run_create(
            user=request.user, title=form.cleaned_data["title"], raw_config=form.cleaned_data
        )
    except services.TrainingRefused as refusal:
        form.add_error(None, str(refusal))
        return _home_render(request, form, status=400)
    return redirect("model_builder:run_detail", run_pk=run.pk)


def _run_context(request, run) -> dict:
    pair = None
    if run.exercise_id:
        # The comparison shows finished trainings only (the owner's, whoever reads it).
        pair = {
            split: each if each is not None and each.status == "succeeded" else None
            for split, each in selectors.exercise_pair_for_user(
                user=run.user, exercise=run.exercise, lesson_id=run.lesson_id
            ).items()
        }
    return {
        "run": run,
        "pair": pair,
        "questions": selectors.exercise_questions(run=run),
        "may_answer": permissions.may(request.user, "model_builder.answer_run", run),
        "answers_url": reverse("model_builder:run_answers", args=[run.pk]),
        "may_cancel": permissions.may(request.user, "model_builder.cancel_run", run),
        "epochs_done": len(run.history),
        "progress_template": "model_builder/_training_curves.html",
        **run_progress_context(
            run=run,
            namespace="model_builder",
            result_template="model_builder/_training_result.html",
        ),
    }


@login_required
@require_GET
def training_run_detail(request, run_pk: int):
    run = permissions.access_or_404(
        request.user, "model_builder.view_run", selectors.training_run_by_pk(run_pk)
    )
    return render(request, "model_builder/run_detail.html", _run_context(request, run))


@login_required
@require_GET
def training_run_status(request, run_pk: int):
    run = permissions.access_or_404(
        request.user, "model_builder.view_run", selectors.training_run_by_pk(run_pk)
    )
    return run_status_response(
        request,
        run=run,
        template="runs/_progress.html",
        context=lambda fresh: _run_context(request, fresh),
    )


@login_required
@require_GET
def training_run_curves(request, run_pk: int):
    run = permissions.access_or_404(
        request.user, "model_builder.view_run", selectors.training_run_by_pk(run_pk)
    )
    svg = learning_curves_svg(history=run.history, epochs=run.config["epochs"])
    response = HttpResponse(svg, content_type="image/svg+xml")
    # The page asks for ?epochs=<n>: a new URL whenever the history grows, so a cached
    # picture is never stale for long and polling does not redraw it every second.
    response["Cache-Control"] = "private, max-age=60"
    return response


@login_required
@require_POST
def training_run_cancel(request, run_pk: int):
    run = permissions.access_or_404(
        request.user, "model_builder.cancel_run", selectors.training_run_by_pk(run_pk)
    )
    return run_cancel_response(
        request, run=run, redirect_to="model_builder:run_detail", run_pk=run.pk
    )


@login_required
@require_POST
def exercise_run_create(request, exercise_pk: int):
    """Train for a lesson's leakage exercise with the split the resident pressed."""
    exercise = selectors.builder_exercise_by_pk(exercise_pk)
    lesson_id = request.POST.get("lesson_id", "")
    lesson = Page.objects.filter(pk=int(lesson_id)).first() if lesson_id.isdigit() else None
    if (
        exercise is None
        or lesson is None
        or not permissions.may(request.user, "model_builder.start_exercise", exercise, page=lesson)
    ):
        raise PermissionDenied("You may not train for this exercise here.")
    try:
        run = services.training_run_start_for_exercise(
            user=request.user, exercise=exercise, lesson=lesson, split=request.POST.get("split", "")
        )
    except services.TrainingRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(lesson.url)
    return redirect("model_builder:run_detail", run_pk=run.pk)


@login_required
@require_POST
def training_run_answers(request, run_pk: int):
    """The resident's answers to the leakage exercise's questions, kept on the run."""
    run = permissions.access_or_404(
        request.user, "model_builder.answer_run", selectors.training_run_by_pk(run_pk)
    )
    answers = run_answers_posted(data=request.POST, prompts=run.exercise.question_prompts)
    try:
        services.training_run_answers_save(run=run, answers=answers)
    except services.TrainingRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, "Your answers were saved with this training.")
    return redirect("model_builder:run_detail", run_pk=run.pk)


@login_required
@require_GET
def leakage_lesson(request):
    _builder_allowed(request)
    pair = selectors.leakage_pair_for_user(user=request.user)
    return render(request, "model_builder/leakage.html", {"pair": pair})


@login_required
@require_http_methods(["GET", "POST"])
def cohort_list(request):
    _builder_allowed(request)
    form = CohortForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        cohort = services.labelled_cohort_create(
            user=request.user, title=form.cleaned_data["title"]
        )
        return redirect("model_builder:cohort_detail", cohort_pk=cohort.pk)
    return render(
        request,
        "model_builder/cohort_list.html",
        {"form": form, "cohorts": selectors.labelled_cohorts_for_user(user=request.user)},
        status=400 if form.errors else 200,
    )


def _cohort_render(request, cohort, *, file_form=None, problems=(), status=200):
    return render(
        request,
        "model_builder/cohort_detail.html",
        {
            "cohort": cohort,
            "rows": selectors.studies_for_labelling(user=request.user, cohort=cohort),
            "file_form": file_form or LabelFileForm(),
            "problems": problems,
        },
        status=status,
    )


@login_required
@require_GET
def cohort_detail(request, cohort_pk: int):
    cohort = permissions.access_or_404(
        request.user, "model_builder.open_cohort", selectors.labelled_cohort_by_pk(cohort_pk)
    )
    return _cohort_render(request, cohort)


@login_required
@require_POST
def cohort_labels_set(request, cohort_pk: int):
    """One select per visible study: positive, negative, or not in the cohort."""
    from studies.models import Study

    cohort = permissions.access_or_404(
        request.user, "model_builder.open_cohort", selectors.labelled_cohort_by_pk(cohort_pk)
    )
    changed = 0
    for name, value in request.POST.items():
        if not name.startswith("label-"):
            continue
        study = (
            Study.objects.filter(pk=name.removeprefix("label-")).first()
            if name[6:].isdigit()
            else None
        )
        if study is None or value not in {"", "0", "1"}:
            raise Http404("No such study.")
        try:
            services.cohort_label_set(
                cohort=cohort, user=request.user, study=study, label=int(value) if value else None
            )
        except services.TrainingRefused:
            raise Http404("No such study.") from None
        changed += 1
    messages.success(
        request,
        ngettext("Labels saved (%(count)d study).", "Labels saved (%(count)d studies).", changed)
        % {"count": changed},
    )
    return redirect("model_builder:cohort_detail", cohort_pk=cohort.pk)


@login_required
@require_POST
def cohort_labels_upload(request, cohort_pk: int):
    cohort = permissions.access_or_404(
        request.user, "model_builder.open_cohort", selectors.labelled_cohort_by_pk(cohort_pk)
    )
    form = LabelFileForm(request.POST, request.FILES)
    if not form.is_valid():
        return _cohort_render(request, cohort, file_form=form, status=400)
    upload = form.cleaned_data["labels_file"]
    try:
        # Read one byte past the limit: enough to know the file is too large.
        from django.conf import settings

        content = upload.read(settings.MODEL_BUILDER_LABEL_CSV_MAX_BYTES + 1)
        stored, problems = services.cohort_labels_import_csv(
            cohort=cohort, user=request.user, content=content
        )
    except LabelFileRefused as refusal:
        form.add_error("labels_file", str(refusal))
        return _cohort_render(request, cohort, file_form=form, status=400)
    if problems:
        return _cohort_render(request, cohort, file_form=form, problems=problems, status=400)
    messages.success(
        request,
        ngettext(
            "%(count)d label stored from %(file)s.",
            "%(count)d labels stored from %(file)s.",
            stored,
        )
        % {"count": stored, "file": upload.name},
    )
    return redirect("model_builder:cohort_detail", cohort_pk=cohort.pk)
