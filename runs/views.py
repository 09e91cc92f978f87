"""The generic run views' bodies: a family's view asks its permission function, then these.

Permission stays with the caller (accounts.permissions), so these never decide who may see
or cancel a run; they only speak the engine's part of the page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from runs.announcements import run_change_await
from runs.answers import AnswersRefused, run_answers_keep, run_answers_posted, run_answers_rows
from runs.models import DurableRun
from runs.services import run_cancel


def run_status_response(
    request, *, run: DurableRun, template: str, context: Callable[[DurableRun], dict]
):
    """The live part of a run page, polled by htmx (runs/_progress.html) until final.

    The poll of a young active run is held until the run changes (runs.announcements), so
    `context(run)` is built from the row as it is when the answer goes out; the next poll
    then follows at once. A poll that could not wait asks again after the usual delay.
    """
    waited = False
    if request.headers.get("HX-Request") and run.is_active and run.is_young:
        shown = _shown_state(run)
        waited = run_change_await(
            run, changed=lambda: _shown_state(type(run).objects.get(pk=run.pk)) != shown
        )
        if waited:
            run.refresh_from_db()
    poll_delay_ms = 0 if waited and run.is_young else run.poll_delay_ms
    response = render(request, template, {**context(run), "poll_delay_ms": poll_delay_ms})
    if request.headers.get("HX-Request") and not run.is_active:
        # The page was polling and the run just ended: reload it whole, so scripts on the
        # result (viewers, plots) start as on any page load.
        response["HX-Refresh"] = "true"
    return response


def _shown_state(run: DurableRun) -> tuple:
    """What the progress panel shows of a run: a change of any of it answers a held poll."""
    return (run.status, run.progress_percent, run.progress_message, run.attempts)


def run_cancel_response(request, *, run: DurableRun, redirect_to: str, **redirect_kwargs):
    if run_cancel(run=run):
        messages.info(request, _("The run was cancelled."))
    else:
        messages.info(request, _("The run had already finished."))
    return redirect(redirect_to, **redirect_kwargs)


def run_progress_context(*, run: DurableRun, namespace: str, result_template: str) -> dict:
    """What runs/_progress.html needs besides the run: a family's URLs and result part."""
    return {
        "status_url": reverse(f"{namespace}:run_status", args=[run.pk]),
        "cancel_url": reverse(f"{namespace}:run_cancel", args=[run.pk]),
        "result_template": result_template,
    }


def run_answers_save_response(request, *, run, redirect_to: str, **redirect_kwargs):
    """Keep the answers the form posted to the run's exercise's questions on the run (for a
    family whose own service adds nothing: the caller's rule already checked that the
    result is in and the run is the user's)."""
    answers = run_answers_posted(data=request.POST, prompts=run.exercise.question_prompts)
    try:
        run_answers_keep(run=run, answers=answers)
    except AnswersRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("Your answers were saved."))
    return redirect(redirect_to, **redirect_kwargs)


def run_answers_context(request, *, run, may_answer: bool, answers_url: str) -> dict:
    """What runs/_answers.html needs: the questions with the run's answers (escaped when
    shown), whether this person may write them, and where the form posts."""
    return {
        "questions": run_answers_rows(
            prompts=run.exercise.question_prompts, answers=run.answers or {}
        ),
        "may_answer": may_answer,
        "answers_url": answers_url,
    }
