"""Educators author reading-room exercises as Wagtail snippets and embed them in lessons."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from reading_room.models import ReadingRoomExercise, ReadingRoomKind


def test_an_educator_creates_an_exercise_in_the_wagtail_admin(client, people):
    client.force_login(people["educator"])
    add_url = reverse("wagtailsnippets_reading_room_readingroomexercise:add")
    assert client.get(add_url).status_code == 200
    response = client.post(
        add_url,
        {
            "title": "Stroke CT triage",
            "kind": "triage",
            # The rich-text editor posts Draftail's content state.
            "instructions": '{"blocks": [], "entityMap": {}}',
            "score_source": "ct-lesion-held-out",
            "cohort_cases": "",
            "prevalence": "0.1",
            "default_threshold": "0.4",
            "seed": "7",
            "shift_hours": "8",
            "arrivals_per_hour": "9",
            "arrival_pattern": "poisson",
            "reading_minutes": "6",
            "reading_time_distribution": "exponential",
            "radiologists": "2",
            "finding": "intracranial haemorrhage",
            "backlog_studies": "12",
            "aging_minutes": "60",
            "population_size": "10000",
            "human_sensitivity": "0.85",
            "human_specificity": "0.9",
            "arbitration_sensitivity": "0.72",
            "arbitration_specificity": "0.52",
            "error_correlation": "0.3",
            "is_published": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    exercise = ReadingRoomExercise.objects.get(title="Stroke CT triage")
    assert (exercise.radiologists, exercise.reading_time_distribution) == (2, "exponential")
    assert (exercise.backlog_studies, exercise.aging_minutes) == (12, 60.0)
    client.force_login(people["examiner"])
    assert client.get(add_url).status_code in (302, 403)


@pytest.mark.django_db
def test_impossible_settings_are_refused_with_reasons():
    exercise = ReadingRoomExercise(
        title="Too much", kind=ReadingRoomKind.TRIAGE, arrivals_per_hour=120, shift_hours=24
    )
    with pytest.raises(ValidationError) as refused:
        exercise.full_clean()
    assert "arrivals_per_hour" in refused.value.message_dict
    exercise = ReadingRoomExercise(
        title="Bigger than the cohort", kind=ReadingRoomKind.SCREENING, cohort_cases=5000
    )
    with pytest.raises(ValidationError) as refused:
        exercise.full_clean()
    assert "The cohort has 600 cases." in refused.value.message_dict["cohort_cases"]
    exercise = ReadingRoomExercise(
        title="Prevalence above one", kind=ReadingRoomKind.SCREENING, prevalence=1.5
    )
    with pytest.raises(ValidationError) as refused:
        exercise.full_clean()
    assert "prevalence" in refused.value.message_dict


@pytest.mark.django_db
def test_the_command_prepares_scores_once(capsys):
    call_command("reading_room_scores", cases=12)
    first = capsys.readouterr().out
    assert "12 cases" in first and "AUC" in first
    call_command("reading_room_scores", cases=12)
    assert "12 cases" in capsys.readouterr().out
    from reading_room.models import CohortScoreSet

    assert CohortScoreSet.objects.get().attempts == 1
