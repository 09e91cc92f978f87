"""The REST API as a script sees it: tokens made on the page, the same access rules as the
pages (blind marking and answer keys included), and lab runs started, watched and
cancelled with a clear answer for bad input."""

from __future__ import annotations

import pytest
from django.urls import reverse
from wagtail.models import APIToken

from api import services
from labs.models import LabRun, LabRunStatus
from labs.services import lab_run_create

pytestmark = pytest.mark.django_db


def bearer(world, who: str) -> dict:
    _token, plain = services.token_create(user=world["people"][who], name=f"{who} script")
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


def test_a_token_made_on_the_page_is_shown_once_and_works_until_revoked(client, world):
    resident = world["people"]["resident"]
    client.force_login(resident)
    page = client.post(reverse("api:tokens"), {"name": "gradebook sync"})
    assert page.status_code == 200
    plain = page.context["new_token"]
    assert plain and plain in page.content.decode()
    stored = APIToken.objects.get(user=resident)
    assert plain not in (stored.key_hash, stored.prefix)  # only a digest is kept
    assert plain not in client.get(reverse("api:tokens")).content.decode()  # shown once

    client.logout()
    header = {"HTTP_AUTHORIZATION": f"Bearer {plain}"}
    courses = client.get(reverse("api:course_list"), **header)
    assert courses.status_code == 200
    assert [course["title"] for course in courses.json()] == [world["course"].title]

    services.token_revoke(user=resident, token_pk=stored.pk)
    refused = client.get(reverse("api:course_list"), **header)
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer wagtail_notatoken", "Bearer a b", "Basic cmhlYTpwdw==", "Bearer \u00e9"],
)
def test_no_valid_token_is_401_with_a_reason(client, world, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    answer = client.get(reverse("api:lab_run_list"), **extra)
    assert answer.status_code == 401
    assert answer.json()["detail"]


def test_an_inactive_persons_token_stops_working(client, world):
    header = bearer(world, "resident")
    world["people"]["resident"].is_active = False
    world["people"]["resident"].save()
    assert client.get(reverse("api:course_list"), **header).status_code == 401


def test_token_names_are_required_and_tokens_are_limited(world):
    resident = world["people"]["resident"]
    with pytest.raises(services.TokenRefused, match="name"):
        services.token_create(user=resident, name="  ")
    for number in range(services.MAX_TOKENS_PER_USER):
        services.token_create(user=resident, name=f"script {number}")
    with pytest.raises(services.TokenRefused, match="Revoke one"):
        services.token_create(user=resident, name="one too many")


def test_runs_follow_the_pages_rules(client, world):
    run = lab_run_create(user=world["people"]["resident"], exercise=world["exercise"], severity=5)
    url = reverse("api:lab_run_detail", args=[run.pk])
    assert client.get(url, **bearer(world, "resident")).json()["status"] == "queued"
    assert client.get(url, **bearer(world, "educator")).status_code == 200
    # Blind marking: examiners never see a resident's run outside the marking page.
    assert client.get(url, **bearer(world, "examiner")).status_code == 404
    assert client.get(url, **bearer(world, "outsider")).status_code == 404
    listed = client.get(reverse("api:lab_run_list"), **bearer(world, "outsider")).json()
    assert listed == []


def test_the_question_bank_with_its_keys_is_for_authors_only(client, world):
    from assessments.models import Question

    Question.objects.create(
        title="Dose and noise",
        kind="single_choice",
        prompt="<p>Quarter the dose?</p>",
        data={"options": [{"text": "Noise doubles", "correct": True}, {"text": "Halves"}]},
    )
    bank = reverse("api:question_bank")
    for who in ("resident", "examiner", "outsider"):
        assert client.get(bank, **bearer(world, who)).status_code == 403, who
    questions = client.get(bank, **bearer(world, "educator")).json()
    assert questions[0]["title"] == "Dose and noise"
    assert questions[0]["data"]["options"][0]["correct"] is True


def test_a_lab_run_started_through_the_api_is_checked_like_the_form(client, world):
    header = bearer(world, "resident")
    start = {"exercise_id": world["exercise"].pk, "lesson_id": world["lesson"].pk}
    too_strong = client.post(
        reverse("api:lab_run_list"),
        {**start, "severity": 10_000},
        content_type="application/json",
        **header,
    )
    assert too_strong.status_code == 400
    assert (
        "severity" in too_strong.json()["detail"].lower()
        or "between" in too_strong.json()["detail"]
    )
    assert not LabRun.objects.exists()  # nothing half-made

    started = client.post(
        reverse("api:lab_run_list"),
        {**start, "severity": 30},
        content_type="application/json",
        **header,
    )
    assert started.status_code == 201, started.content
    run = started.json()
    assert run["status"] == "queued" and run["parameters"]["severity"] == 30
    assert run["detail_page"] == reverse("labs:run_detail", args=[run["id"]])

    cancelled = client.post(reverse("api:lab_run_cancel", args=[run["id"]]), **header)
    assert cancelled.json()["status"] == "cancelled"
    assert LabRun.objects.get(pk=run["id"]).status == LabRunStatus.CANCELLED


def test_a_lab_from_a_lesson_that_does_not_embed_it_is_refused(client, world):
    other_page = world["course"]
    answer = client.post(
        reverse("api:lab_run_list"),
        {"exercise_id": world["exercise"].pk, "lesson_id": other_page.pk, "severity": 5},
        content_type="application/json",
        **bearer(world, "resident"),
    )
    assert answer.status_code == 403


def test_progress_is_your_own(client, world):
    answer = client.get(
        reverse("api:course_progress", args=[world["course"].pk]), **bearer(world, "resident")
    )
    progress = answer.json()
    assert progress["course_id"] == world["course"].pk
    assert progress["lessons_completed"] == 0
    assert progress["next_lesson_id"] == world["lesson"].pk
    outsider = client.get(
        reverse("api:course_progress", args=[world["course"].pk]), **bearer(world, "outsider")
    )
    assert outsider.status_code == 404
