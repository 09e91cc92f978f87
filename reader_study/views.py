"""Thin views for the reader study: parse the request, ask permissions, call a service, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from wagtail.models import Page

from accounts import permissions
from reader_study import selectors, services
from reader_study.cases import AIDED, case_picture_png
from reader_study.forms import LessonForm, RatingForm
from reader_study.measures import PUBLISHED_EFFECT, RATING_SCALE
from reader_study.models import ReaderStudyExercise
from runs.views import run_answers_context, run_answers_save_response


@login_required
@require_POST
def session_start(request, exercise_pk: int):
    exercise = get_object_or_404(ReaderStudyExercise, pk=exercise_pk)
    form = LessonForm(request.POST)
    lesson = (
        Page.objects.filter(pk=form.cleaned_data["lesson_id"]).first() if form.is_valid() else None
    )
    if lesson is None or not permissions.may(
        request.user, "reader_study.take", exercise, page=lesson
    ):
        raise PermissionDenied(_("You may not take this reader study here."))
    session = services.reader_session_start(user=request.user, exercise=exercise, lesson=lesson)
    return _next_step(session)


def _next_step(session):
    position = selectors.session_next_position(session=session)
    if position is None:
        return redirect("reader_study:session_result", session_pk=session.pk)
    return redirect("reader_study:case", session_pk=session.pk, position=position)


@login_required
@require_http_methods(["GET", "POST"])
def case(request, session_pk: int, position: int):
    """The case due next, with the AI's mark in the aided arm; other positions redirect."""
    session = permissions.access_or_404(
        request.user, "reader_study.open_session", selectors.reader_session_by_pk(session_pk)
    )
    if position != selectors.session_next_position(session=session):
        return _next_step(session)
    form = RatingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.reader_rating_record(
                session=session, position=position, rating=form.cleaned_data["rating"]
            )
        except services.RatingRefused as refusal:
            messages.error(request, str(refusal))
        return _next_step(session)
    entry = session.plan[position]
    sizes = selectors.arm_sizes(session.plan)
    return render(
        request,
        "reader_study/case.html",
        {
            "session": session,
            "exercise": session.exercise,
            "entry": entry,
            "form": form,
            "scale": RATING_SCALE,
            "number": position + 1,
            "total": len(session.plan),
            "aided": entry["arm"] == AIDED,
            "arm_number": position + 1 - (sizes["unaided"] if entry["arm"] == AIDED else 0),
            "arm_size": sizes[entry["arm"]],
            "first_aided": entry["arm"] == AIDED and position == sizes["unaided"],
        },
    )


@login_required
@require_GET
def case_image(request, session_pk: int, position: int):
    """A case's picture, for the owner, once the case is due (never ahead of it)."""
    session = permissions.access_or_404(
        request.user, "reader_study.open_session", selectors.reader_session_by_pk(session_pk)
    )
    due = selectors.session_next_position(session=session)
    if position >= len(session.plan) or (due is not None and position > due):
        raise Http404("No such case yet.")
    entry = session.plan[position]
    png = case_picture_png(
        cohort_cases=session.cohort_cases, entry=entry, with_ai_mark=entry["arm"] == AIDED
    )
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def session_result(request, session_pk: int):
    """The resident's own measures: never graded, never shown to anyone else."""
    session = permissions.access_or_404(
        request.user, "reader_study.open_session", selectors.reader_session_by_pk(session_pk)
    )
    if not session.is_finished:
        return _next_step(session)
    return render(
        request,
        "reader_study/result.html",
        {
            "session": session,
            "exercise": session.exercise,
            "results": session.results,
            "sizes": selectors.arm_sizes(session.plan),
            "reviews": selectors.session_review(session=session),
            "published": PUBLISHED_EFFECT,
            **_answers_context(request, session),
        },
    )


def _answers_context(request, session) -> dict:
    return run_answers_context(
        request,
        run=session,
        may_answer=permissions.may(request.user, "reader_study.answer_session", session),
        answers_url=reverse("reader_study:session_answers", args=[session.pk]),
    )


@login_required
@require_http_methods(["GET", "POST"])
def session_answers(request, session_pk: int):
    """GET: a session's written answers, for the resident, educators and admins (never its
    ratings). POST: the resident keeps their answers on the session."""
    session = selectors.reader_session_by_pk(session_pk)
    if request.method == "POST":
        session = permissions.access_or_404(request.user, "reader_study.answer_session", session)
        return run_answers_save_response(
            request, run=session, redirect_to="reader_study:session_result", session_pk=session.pk
        )
    session = permissions.access_or_404(request.user, "reader_study.read_answers", session)
    return render(
        request,
        "reader_study/answers.html",
        {"session": session, "run": session, **_answers_context(request, session)},
    )


@login_required
@require_GET
def cohort_summary(request, exercise_pk: int):
    if not permissions.may(request.user, "reader_study.view_cohort"):
        raise PermissionDenied
    exercise = get_object_or_404(ReaderStudyExercise, pk=exercise_pk)
    return render(
        request,
        "reader_study/cohort.html",
        {
            "exercise": exercise,
            "summary": selectors.cohort_summary(exercise=exercise),
            "answered": selectors.sessions_answered(exercise=exercise),
        },
    )
