"""The reading room as a resident meets it: the lesson block, runs, plots, replays."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest
from django.urls import reverse

from reading_room.models import CohortScoreSet, SimulationRun
from runs.models import RunStatus
from tests.lesson_pages import lesson_page_read
from tests.reading_room_tests.matrix_support import (
    MATRIX_SCORE_CASES,
    exercises_embed,
    scores_make_ready,
)


@pytest.fixture
def exercises(demo_lesson):
    return exercises_embed(demo_lesson)


@pytest.fixture
def resident(client, people):
    client.force_login(people["resident"])
    return people["resident"]


def run_triage(client, lesson, exercise, threshold="0.5", policy="flag"):
    return client.post(
        reverse("reading_room:run_create", args=[exercise.pk]),
        {"threshold": threshold, "policy": policy, "lesson_id": lesson.pk},
    )


def svg_of(client, run, plot) -> ElementTree.Element:
    response = client.get(reverse("reading_room:run_plot", args=[run.pk, plot]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    # Our own server's output, drawn by matplotlib: not untrusted XML.
    root = ElementTree.fromstring(response.content)  # noqa: S314
    assert root.tag.endswith("svg")
    return root


def svg_text(root) -> str:
    return " ".join(t.strip() for t in root.itertext() if t.strip())


def test_before_scores_exist_the_lesson_offers_to_prepare_them(
    client, resident, demo_lesson, exercises
):
    page = lesson_page_read(client, demo_lesson.url).content.decode()
    assert "Prepare the model&#x27;s scores" in page or "Prepare the model's scores" in page
    response = client.post(
        reverse("reading_room:scores_request", args=[exercises["triage"].pk]),
        {"lesson_id": demo_lesson.pk},
    )
    assert response.status_code == 302
    score_set = CohortScoreSet.objects.get()
    assert (score_set.cases, score_set.status) == (MATRIX_SCORE_CASES, RunStatus.QUEUED)
    page = lesson_page_read(client, demo_lesson.url).content.decode()
    assert "<progress" in page
    assert reverse("reading_room:scores_status", args=[score_set.pk]) in page


def test_a_run_shows_its_numbers_and_plots_and_a_replay_sits_beside_it(
    client, resident, demo_lesson, exercises
):
    scores_make_ready()
    page = lesson_page_read(client, demo_lesson.url).content.decode()
    assert "Run the simulation" in page
    assert "1 radiologist(s) share one worklist" in page
    assert "Borrowed scores: no pulmonary embolism model" in page
    assert "Overnight: one radiologist, 30 studies waiting" in page
    assert "Double reading with arbitration" in page or "double reading with arbitration" in page

    response = run_triage(client, demo_lesson, exercises["triage"], threshold="0.5")
    first = SimulationRun.objects.get()
    assert response.url == reverse("reading_room:run_detail", args=[first.pk])
    detail = client.get(response.url).content.decode()
    assert "Time to report (minutes)" in detail
    assert "Critical the AI missed" in detail
    assert "Borrowed scores: no pulmonary embolism model" in detail
    assert "Cost of false flags" in detail
    for plot in ("time-to-report", "day"):
        assert reverse("reading_room:run_plot", args=[first.pk, plot]) in detail
    boxes = svg_text(svg_of(client, first, "time-to-report"))
    assert "First in, first out" in boxes and "Highest score first" in boxes
    assert f"critical ({first.results['critical']})" in boxes
    assert "Arrival (hours into the shift)" in svg_text(svg_of(client, first, "day"))

    response = run_triage(client, demo_lesson, exercises["triage"], threshold="0.9")
    second = SimulationRun.objects.exclude(pk=first.pk).get()
    detail = client.get(response.url).content.decode()
    assert "Compared with" in detail
    assert reverse("reading_room:run_plot", args=[first.pk, "time-to-report"]) in detail
    assert reverse("reading_room:run_plot", args=[second.pk, "time-to-report"]) in detail


def test_a_screening_run_draws_workload_roc_and_ppv(client, resident, demo_lesson, exercises):
    scores_make_ready()
    response = client.post(
        reverse("reading_room:run_create", args=[exercises["screening"].pk]),
        {"threshold": "0.5", "lesson_id": demo_lesson.pk},
    )
    run = SimulationRun.objects.get()
    detail = client.get(response.url).content.decode()
    assert "Double reading with arbitration (baseline)" in detail
    assert "MASAI-style" in detail and "ScreenTrustCAD-style" in detail
    assert "Missed at screening (interval cancers) per 1000" in detail
    assert "Where the AI scores come from" in detail
    workload = svg_text(svg_of(client, run, "workload"))
    assert "Cancers missed at screening per 1000" in workload and "MASAI-style" in workload
    assert "ROC curve and operating points" in svg_text(svg_of(client, run, "roc"))
    assert "this programme: 0.8 %" in svg_text(svg_of(client, run, "ppv"))
    missing = client.get(reverse("reading_room:run_plot", args=[run.pk, "day"]))
    assert missing.status_code == 404


def test_a_bad_threshold_is_refused_with_a_message_and_nothing_is_stored(
    client, resident, demo_lesson, exercises
):
    scores_make_ready()
    response = run_triage(client, demo_lesson, exercises["triage"], threshold="1.5")
    assert response.status_code == 302 and response.url == demo_lesson.url
    page = client.get(response.url).content.decode()
    assert "The threshold must be a number between 0 and 1." in page
    assert SimulationRun.objects.count() == 0


def test_others_runs_are_hidden_from_residents(client, people, demo_lesson, exercises):
    scores_make_ready()
    client.force_login(people["resident"])
    run_triage(client, demo_lesson, exercises["triage"])
    run = SimulationRun.objects.get()
    client.force_login(people["outsider"])
    assert client.get(reverse("reading_room:run_detail", args=[run.pk])).status_code == 404
    assert client.get(reverse("reading_room:run_plot", args=[run.pk, "day"])).status_code == 404
    listing = client.get(reverse("reading_room:run_list")).content.decode()
    assert reverse("reading_room:run_detail", args=[run.pk]) not in listing
    client.force_login(people["resident"])
    listing = client.get(reverse("reading_room:run_list")).content.decode()
    assert reverse("reading_room:run_detail", args=[run.pk]) in listing


def test_author_text_is_escaped(client, resident, demo_lesson, exercises):
    exercise = exercises["triage"]
    exercise.title = "<script>alert(1)</script> triage"
    exercise.save()
    scores_make_ready()
    page = lesson_page_read(client, demo_lesson.url).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; triage" in page
    response = run_triage(client, demo_lesson, exercise)
    assert "<script>alert(1)</script>" not in client.get(response.url).content.decode()


def test_the_progress_fragment_reloads_the_lesson_once_scores_are_ready(client, resident):
    score_set = scores_make_ready(cases=12)
    url = reverse("reading_room:scores_status", args=[score_set.pk])
    assert client.get(url, headers={"HX-Request": "true"})["HX-Refresh"] == "true"
    assert "HX-Refresh" not in client.get(url)
