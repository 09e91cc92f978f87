"""Thin views for the no-code model builder: parse, ask permissions, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import permissions
from model_builder import selectors, services
from model_builder.forms import CohortForm, LabelFileForm, TrainingRunForm
from model_builder.own_studies import LabelFileRefused
from model_builder.plots import learning_curves_svg
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
    return {
        "run": run,
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
        request, run=run, template="runs/_progress.html", context=_run_context(request, run)
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
