"""Thin views for lab runs: parse the request, ask permissions, call a service, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from wagtail.models import Page

from accounts import permissions
from labs import selectors, services
from labs.forms import LabRunForm, ModelUploadForm
from labs.models import LabExercise
from runs.answers import run_answers_posted
from runs.views import run_cancel_response, run_progress_context, run_status_response
from zoo.registry import MODELS, UnknownModel, model_get
from zoo.sandbox import SandboxUnavailable, sandbox_required


@login_required
@require_POST
def lab_run_create(request, exercise_pk: int):
    exercise = get_object_or_404(LabExercise, pk=exercise_pk)
    form = LabRunForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The lab form was incomplete; please try again."))
        return redirect(request.headers.get("referer") or "home")
    lesson = Page.objects.filter(pk=form.cleaned_data["lesson_id"]).first()
    if lesson is None or not permissions.may(request.user, "labs.start_lab", exercise, page=lesson):
        raise PermissionDenied(_("You may not run this lab here."))
    try:
        run = services.lab_run_create(
            user=request.user,
            exercise=exercise,
            lesson=lesson,
            perturbation_key=form.cleaned_data["perturbation_key"],
            severity=form.cleaned_data["severity"],
            slice_number=form.cleaned_data["slice_number"],
            model_key=form.cleaned_data["model_key"],
            explainer_keys=form.chosen_explainer_keys(),
            prompt=form.cleaned_data["prompt"],
        )
    except services.LabRunRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(lesson.url)
    return redirect("labs:run_detail", run_pk=run.pk)


def _run_context(request, run) -> dict:
    return {
        "run": run,
        "metrics": selectors.lab_run_metrics_display(run),
        "may_cancel": permissions.may(request.user, "labs.cancel_run", run),
        "may_answer": permissions.may(request.user, "labs.answer_run", run),
        "result": selectors.lab_run_result_display(run)
        if run.status == "succeeded" or selectors.lab_run_is_partial(run)
        else None,
        "partial_result": selectors.lab_run_is_partial(run),
        "questions": selectors.lab_run_questions(run),
        **run_progress_context(
            run=run, namespace="labs", result_template="labs/_lab_run_result.html"
        ),
    }


@login_required
@require_GET
def lab_run_detail(request, run_pk: int):
    run = permissions.access_or_404(request.user, "labs.view_run", selectors.lab_run_by_pk(run_pk))
    return render(request, "labs/lab_run_detail.html", _run_context(request, run))


@login_required
@require_GET
def lab_run_status(request, run_pk: int):
    run = permissions.access_or_404(request.user, "labs.view_run", selectors.lab_run_by_pk(run_pk))
    return run_status_response(
        request,
        run=run,
        template="runs/_progress.html",
        context=lambda fresh: _run_context(request, fresh),
    )


@login_required
@require_POST
def lab_run_cancel(request, run_pk: int):
    run = permissions.access_or_404(
        request.user, "labs.cancel_run", selectors.lab_run_by_pk(run_pk)
    )
    return run_cancel_response(request, run=run, redirect_to="labs:run_detail", run_pk=run.pk)


@login_required
@require_POST
def lab_run_answers(request, run_pk: int):
    """The resident's answers to the exercise's questions, kept on the run."""
    run = permissions.access_or_404(
        request.user, "labs.answer_run", selectors.lab_run_by_pk(run_pk)
    )
    answers = run_answers_posted(data=request.POST, prompts=run.exercise.question_prompts)
    try:
        services.lab_run_answers_save(run=run, answers=answers)
    except services.LabRunRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("Your answers were saved with this run."))
    return redirect("labs:run_detail", run_pk=run.pk)


@login_required
@require_GET
def lab_run_output(request, run_pk: int, output: str):
    """Serve a run's picture to those who may see the run (media is never public)."""
    run = permissions.access_or_404(request.user, "labs.view_run", selectors.lab_run_by_pk(run_pk))
    if output not in run.output_fields:
        raise Http404("No such output.")
    stored = getattr(run, output)
    if not stored:
        raise Http404("This output is not ready.")
    return FileResponse(stored.open("rb"), content_type="image/png")


FILE_TYPES = {".dcm": "application/dicom", ".png": "image/png"}


@login_required
@require_GET
def lab_run_file(request, run_pk: int, name: str):
    """One file a run wrote (derived DICOM, viewer layers), by the name the run recorded."""
    from django.core.files.storage import default_storage

    run = permissions.access_or_404(request.user, "labs.view_run", selectors.lab_run_by_pk(run_pk))
    stored = run.outputs.get(name)
    content_type = FILE_TYPES.get(name[name.rfind(".") :] if "." in name else "")
    if stored is None or content_type is None:
        raise Http404("No such file for this run.")
    response = FileResponse(default_storage.open(stored, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def lab_run_list(request):
    return render(
        request, "labs/lab_run_list.html", {"runs": selectors.lab_runs_for_user(user=request.user)}
    )


@login_required
@require_GET
def model_card_detail(request, model_key: str):
    """A model's card, generated from its measured metrics. Shared models' cards are open to
    every signed-in user; a resident's trained model's card to its owner, educators and admins."""
    if not permissions.may(request.user, "labs.view_model_card", model_key):
        raise Http404("No such model.")
    try:
        model = model_get(model_key)
    except UnknownModel:
        raise Http404("No such model.") from None
    return render(
        request,
        "labs/model_card.html",
        {"card": model.card(), "models": list(MODELS.values())},
    )


@login_required
def uploaded_model_create(request):
    if not permissions.may(request.user, "labs.upload_models"):
        raise PermissionDenied(_("Only educators and programme admins upload models."))
    try:
        sandbox_required()
    except SandboxUnavailable as unavailable:
        # No sandbox, no uploads: never a fallback to running the model in this process.
        return render(
            request, "labs/uploaded_model_form.html", {"sandbox_unavailable": str(unavailable)}
        )
    form = ModelUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.uploaded_model_create(
                user=request.user,
                title=form.cleaned_data["title"],
                upload=form.cleaned_data["archive"],
                spec=form.spec(),
            )
        except services.ModelUploadRefused as refusal:
            form.add_error("archive", str(refusal))
        else:
            messages.success(
                request, "Model stored. It is being validated on a sample study; refresh below."
            )
            return redirect("labs:uploaded_models")
    return render(request, "labs/uploaded_model_form.html", {"form": form})


@login_required
@require_GET
def uploaded_model_list(request):
    if not permissions.may(request.user, "labs.upload_models"):
        raise PermissionDenied(_("Only educators and programme admins upload models."))
    return render(
        request,
        "labs/uploaded_model_list.html",
        {"models": selectors.uploaded_models_for_user(user=request.user)},
    )
