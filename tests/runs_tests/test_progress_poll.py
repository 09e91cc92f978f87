"""The progress panel asks for a young run's state often and for an older one's less often:
an interactive lab finishes in a second or two, and a fixed half-second poll would add a
quarter of a second on average to what the resident waits (issue 18, item 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from labs.models import LabRun, LabRunStatus

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
