"""The progress panel asks for a young run's state often and for an older one's less often:
an interactive lab finishes in a second or two, and a fixed half-second poll would add a
quarter of a second on average to what the resident waits (issue 18, item 3). A young run's
poll is held by the web until the worker announces a change, so the end shows at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from labs.models import LabRun, LabRunStatus
from runs.announcements import run_change_announce

pytestmark = pytest.mark.django_db


def status_fragment(client, run) -> str:
    return client.get(reverse("labs:run_status", args=[run.pk])).content.decode()


def test_a_young_run_is_polled_quickly_and_an_older_one_at_the_usual_pace(
    client, demo_lesson, people
):
    exercise = next(b.value["exercise"] for b in demo_lesson.body if b.block_type == "lab")
    run = LabRun.objects.create(exercise=exercise, user=people["resident"], lesson=demo_lesson)
    run.created_at = timezone.now()
    assert run.poll_delay_ms == 100

    client.force_login(people["resident"])
    LabRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    assert 'hx-trigger="load delay:500ms"' in status_fragment(client, run)

    # A finished run is not polled at all.
    LabRun.objects.filter(pk=run.pk).update(
        status=LabRunStatus.FAILED, error_message="The model could not read the study."
    )
    final = status_fragment(client, run)
    assert "The model could not read the study." in final and "hx-trigger" not in final


def htmx_poll(client, run):
    """The panel's own poll: htmx sends HX-Request with every request it makes."""
    return client.get(reverse("labs:run_status", args=[run.pk]), headers={"HX-Request": "true"})


def running_lab_run(demo_lesson, people) -> LabRun:
    exercise = next(b.value["exercise"] for b in demo_lesson.body if b.block_type == "lab")
    return LabRun.objects.create(
        exercise=exercise,
        user=people["resident"],
        lesson=demo_lesson,
        status=LabRunStatus.RUNNING,
        attempts=1,
        progress_percent=40,
    )


@pytest.mark.django_db(transaction=True)
def test_a_held_poll_is_answered_when_the_worker_announces_the_end(
    client, demo_lesson, people, settings
):
    # The poll of a young run waits for the run to change (runs.announcements) instead of
    # answering "running" and asking again 100 ms later; the deadline here is far beyond
    # the test, so only the announcement can answer it.
    settings.RUN_STATUS_WAIT_SECONDS = 120
    run = running_lab_run(demo_lesson, people)
    client.force_login(people["resident"])
    answered = {}
    poll = threading.Thread(target=lambda: answered.update(response=htmx_poll(client, run)))
    poll.start()
    time.sleep(0.3)  # the poll is (most likely) held by now; if not, it reads the end below
    LabRun.objects.filter(pk=run.pk).update(
        status=LabRunStatus.FAILED, error_message="The model could not read the study."
    )
    run_change_announce(run)
    poll.join(timeout=60)
    assert not poll.is_alive(), "the held poll did not hear the announcement"
    response = answered["response"]
    assert "The model could not read the study." in response.content.decode()
    assert response["HX-Refresh"] == "true"  # the page reloads to show the result


@pytest.mark.django_db(transaction=True)
def test_a_held_poll_shows_progress_and_is_followed_at_once(client, demo_lesson, people, settings):
    settings.RUN_STATUS_WAIT_SECONDS = 0.3
    run = running_lab_run(demo_lesson, people)
    client.force_login(people["resident"])
    # Nothing changes: the poll is answered at its deadline, still running, and the next
    # one goes out at once (it is held in turn).
    fragment = htmx_poll(client, run).content.decode()
    assert 'data-status="running"' in fragment
    assert 'hx-trigger="load delay:0ms"' in fragment
    # No free place to wait (a busy web process): answered at once, polled as before.
    settings.RUN_STATUS_WAIT_SLOTS = 0
    assert 'hx-trigger="load delay:100ms"' in htmx_poll(client, run).content.decode()
    # An older run (a sweep, a training) is never held: it is polled at the usual pace.
    settings.RUN_STATUS_WAIT_SLOTS = 1
    LabRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    assert 'hx-trigger="load delay:500ms"' in htmx_poll(client, run).content.decode()
