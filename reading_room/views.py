"""Thin views for the reading room: parse the request, ask permissions, call a service, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from wagtail.models import Page

from accounts import permissions
from reading_room import selectors, services
from reading_room.forms import LessonForm, SimulationForm
from reading_room.models import CohortScoreSet, ReadingRoomExercise
from reading_room.plots import PLOTS
from reading_room.simulation.presets import TRIAGE_PRESETS
from reading_room.simulation.triage import POLICY_TITLES
from runs.views import run_answers_context, run_answers_save_response, run_status_response


def _lesson_for(request, form, exercise) -> Page:
    lesson = Page.objects.filter(pk=form.cleaned_data["lesson_id"]).first()
    if lesson is None or not permissions.may(
        request.user, "reading_room.run_exercise", exercise, page=lesson
    ):
        raise PermissionDenied(_("You may not run this exercise here."))
    return lesson


@login_required
@require_POST
def simulation_run_create(request, exercise_pk: int):
    exercise = get_object_or_404(ReadingRoomExercise, pk=exercise_pk)
    where = LessonForm(request.POST)
    if not where.is_valid():
        raise PermissionDenied(_("You may not run this exercise here."))
    lesson = _lesson_for(request, where, exercise)
    form = SimulationForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(lesson.url)
    try:
        run = services.simulation_run_create(
            user=request.user,
            exercise=exercise,
            lesson=lesson,
            threshold=form.cleaned_data["threshold"],
            policy=form.cleaned_data["policy"],
            clinic=form.cleaned_data["clinic"],
            aging_minutes=form.cleaned_data["aging_minutes"],
        )
    except services.SimulationRunRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(lesson.url)
    return redirect("reading_room:run_detail", run_pk=run.pk)


@login_required
@require_POST
def score_set_request(request, exercise_pk: int):
    """Ask for the exercise's cohort scores (idempotent); the lesson then shows progress."""
    exercise = get_object_or_404(ReadingRoomExercise, pk=exercise_pk)
    form = LessonForm(request.POST)
    if not form.is_valid():
        raise PermissionDenied(_("You may not prepare this exercise here."))
    lesson = _lesson_for(request, form, exercise)
    services.score_set_request(
        source_key=exercise.score_source,
        cases=selectors.score_set_cases(exercise=exercise),
    )
    messages.info(request, _("The model is scoring the cohort on the batch queue."))
    return redirect(f"{lesson.url}#reading-room-{exercise.pk}")


@login_required
@require_GET
def score_set_status(request, score_set_pk: int):
    """The live progress of a cohort's scoring, polled by htmx until it is final."""
    if not permissions.may(request.user, "reading_room.view_score_set_progress"):
        raise PermissionDenied
    score_set = get_object_or_404(CohortScoreSet, pk=score_set_pk)
    # Once final, the engine's view reloads the lesson, whose block then shows the form.
    return run_status_response(
        request,
        run=score_set,
        template="runs/_progress.html",
        context=lambda fresh: selectors.score_set_progress_context(score_set=fresh),
    )


@login_required
@require_GET
def simulation_run_list(request):
    return render(
        request,
        "reading_room/run_list.html",
        {"runs": selectors.simulation_runs_for_user(user=request.user)},
    )


@login_required
@require_GET
def simulation_run_detail(request, run_pk: int):
    """One run, side by side with the owner's previous run (or the one `?compare=` names)."""
    run = permissions.access_or_404(
        request.user, "reading_room.view_run", selectors.simulation_run_by_pk(run_pk)
    )
    compare_pk = request.GET.get("compare", "")
    if compare_pk.isdigit():
        other = permissions.access_or_404(
            request.user, "reading_room.view_run", selectors.simulation_run_by_pk(int(compare_pk))
        )
        if other.exercise_id != run.exercise_id:
            raise Http404("Runs of different exercises cannot be compared.")
    else:
        other = selectors.simulation_run_previous(run=run)
    may_replay = run.lesson is not None and permissions.may(
        request.user, "reading_room.run_exercise", run.exercise, page=run.lesson
    )
    return render(
        request,
        "reading_room/run_detail.html",
        {
            "run": run,
            "display": selectors.simulation_run_display(run),
            "plots": list(PLOTS[run.kind]),
            "other": other,
            "other_display": selectors.simulation_run_display(other) if other else None,
            "comparable": selectors.simulation_runs_comparable(run=run),
            "may_replay": may_replay,
            "policies": [(policy.value, title) for policy, title in POLICY_TITLES.items()],
            "presets": list(TRIAGE_PRESETS.values()),
            **run_answers_context(
                request,
                run=run,
                may_answer=permissions.may(request.user, "reading_room.answer_run", run),
                answers_url=reverse("reading_room:run_answers", args=[run.pk]),
            ),
        },
    )


@login_required
@require_POST
def simulation_run_answers(request, run_pk: int):
    """The resident's written answers to the exercise's questions, kept on the run."""
    run = permissions.access_or_404(
        request.user, "reading_room.answer_run", selectors.simulation_run_by_pk(run_pk)
    )
    return run_answers_save_response(
        request, run=run, redirect_to="reading_room:run_detail", run_pk=run.pk
    )


@login_required
@require_GET
def simulation_run_plot(request, run_pk: int, plot: str):
    """A run's plot as SVG, drawn from its stored results, for those who may see the run."""
    run = permissions.access_or_404(
        request.user, "reading_room.view_run", selectors.simulation_run_by_pk(run_pk)
    )
    draw = PLOTS[run.kind].get(plot)
    if draw is None or selectors.simulation_run_is_legacy(run):
        raise Http404("No such plot.")
    response = HttpResponse(draw(run), content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=3600"
    return response
