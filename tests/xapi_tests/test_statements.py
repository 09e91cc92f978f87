"""What the platform reports to a programme's LRS, and when (xapi.receivers), and how the
outbox behaves when the LRS cannot be reached (a loopback port nobody listens on)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from assessments import services as assessment_services
from config.localservices import free_port
from curriculum.services import lesson_completion_record
from labs import services as lab_services
from runs import services as run_services
from runs.models import RunStatus
from tests.assessments_tests.builders import choice_question, exam, quiz
from tests.lesson_pages import lesson_page_read
from xapi import statements
from xapi.models import StatementOutbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def lrs_down(settings):
    """xAPI on, pointing at a port with no LRS behind it."""
    settings.XAPI_LRS_URL = f"http://127.0.0.1:{free_port()}/xAPI/"
    settings.XAPI_HOMEPAGE = "https://artefact.test"
    settings.XAPI_RETRY_BASE_SECONDS = 30
    return settings


def queued(event):
    return [row.statement for row in StatementOutbox.objects.filter(event=event).order_by("pk")]


def test_nothing_is_recorded_while_the_programme_has_not_switched_xapi_on(
    demo_lesson, people, client
):
    lesson_completion_record(user=people["resident"], lesson=demo_lesson)
    client.force_login(people["resident"])
    assert client.get(demo_lesson.url).status_code == 200
    assert StatementOutbox.objects.count() == 0


def test_a_completed_lesson_is_one_statement_about_a_pseudonymous_actor(
    lrs_down, demo_lesson, people
):
    resident = people["resident"]
    resident.email, resident.first_name = "rhea@hospital.example", "Rhea"
    resident.save()
    completion = lesson_completion_record(user=resident, lesson=demo_lesson)
    lesson_completion_record(user=resident, lesson=demo_lesson)  # recorded twice: kept once
    [statement] = queued("lesson.completed")
    assert statement["id"] == str(statements.statement_uuid(f"lesson.completed:{completion.pk}"))
    assert statement["verb"]["id"] == "http://adlnet.gov/expapi/verbs/completed"
    assert statement["object"]["id"] == f"https://artefact.test/xapi/lesson/{demo_lesson.pk}"
    account = statement["actor"]["account"]
    assert account["homePage"] == "https://artefact.test"
    assert account["name"] == statements.actor_name(resident.pk) != str(resident.pk)
    text = json.dumps(statement)
    for private in ("rhea", "Rhea", "hospital.example", resident.username):
        assert private not in text
    # Another user is another actor; the same user is always the same one.
    assert statements.actor_name(people["outsider"].pk) != account["name"]
    assert statements.actor_name(resident.pk) == account["name"]


def test_viewing_a_lesson_is_experienced_only_by_those_who_may_open_it(
    lrs_down, demo_lesson, people, client
):
    client.force_login(people["resident"])
    # Read as a browser reads it: the page, then its reader's parts (the lab), one view.
    viewed_page = lesson_page_read(client, demo_lesson.url)
    assert viewed_page.status_code == 200 and viewed_page.reader_parts is not None
    client.force_login(people["outsider"])  # enrolled in no course: not shown the lesson
    client.get(demo_lesson.url)
    [viewed] = queued("lesson.viewed")
    assert viewed["verb"]["id"] == "http://adlnet.gov/expapi/verbs/experienced"
    assert viewed["actor"]["account"]["name"] == statements.actor_name(people["resident"].pk)


def test_a_quiz_is_answered_completed_and_scored_at_once(lrs_down, people):
    questions = [choice_question("Q1", correct=1), choice_question("Q2", correct=2)]
    assessment = quiz(questions, pass_percent=50)
    attempt = assessment_services.attempt_start(assessment=assessment, user=people["resident"])
    for position in range(2):
        assessment_services.response_save(
            attempt=attempt, position=position, form={"choice": ["1"]}
        )
    assessment_services.attempt_submit(attempt=attempt)
    answered = queued("question.answered")
    assert len(answered) == 2
    assert {a["object"]["definition"]["interactionType"] for a in answered} == {"choice"}
    assert all("response" not in a.get("result", {}) for a in answered)  # answers stay here
    [completed] = queued("assessment.completed")
    assert completed["result"]["completion"] is True
    [scored] = queued("assessment.scored")
    score = scored["result"]["score"]
    assert score["max"] == 2.0 and 0 <= score["raw"] <= 2.0
    assert scored["result"]["success"] == (score["raw"] >= 1.0)


def test_an_exam_is_scored_only_once_its_results_are_released(lrs_down, people):
    assessment = exam([choice_question("E1", correct=0)])
    attempt = assessment_services.attempt_start(assessment=assessment, user=people["resident"])
    assessment_services.response_save(attempt=attempt, position=0, form={"choice": ["0"]})
    assessment_services.attempt_submit(attempt=attempt)
    [answered] = queued("question.answered")
    assert "score" not in answered["result"]  # no mark before release
    assert len(queued("assessment.completed")) == 1
    assert queued("assessment.scored") == []
    assessment_services.assessment_results_release(assessment=assessment)
    assessment.save()  # saved again (an educator edits it): still one scored statement
    [scored] = queued("assessment.scored")
    assert scored["result"]["score"]["max"] == 1.0


def test_a_lab_run_reports_model_perturbation_severity_and_the_measured_change(
    lrs_down, demo_lesson, people, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    exercise = demo_lesson.body[1].value["exercise"]
    run = lab_services.lab_run_create(
        user=people["resident"], exercise=exercise, lesson=demo_lesson, severity=150
    )
    [started] = queued("lab.started")
    assert started["verb"]["id"] == "http://adlnet.gov/expapi/verbs/attempted"
    extensions = started["context"]["extensions"]
    ext = statements.extension
    assert extensions[ext("model")] == run.parameters["model_key"] != ""
    assert extensions[ext("perturbation")] == run.parameters["perturbation_key"] != ""
    assert extensions[ext("severity")] == 150.0
    lab_services.lab_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    [completed] = queued("lab.completed")
    change = completed["result"]["extensions"][ext("measured-change")]
    assert change["pixels relabelled (%)"] == run.metrics["pixels relabelled (%)"] > 5
    assert completed["context"]["contextActivities"]["parent"] == [
        {"id": statements.iri("lesson", demo_lesson.pk)}
    ]


def test_an_lrs_that_is_down_defers_the_statement_and_nothing_is_lost(
    lrs_down, demo_lesson, people
):
    lesson_completion_record(user=people["resident"], lesson=demo_lesson)
    row = StatementOutbox.objects.get()
    assert run_services.run_execute(model_label="xapi.StatementOutbox", run_pk=row.pk) is not None
    row.refresh_from_db()
    # Back in the queue, its attempt given back, retried no earlier than the backoff.
    assert (row.status, row.attempts, row.send_tries) == (RunStatus.QUEUED, 0, 1)
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert row.lrs_status is None and "no answer" in row.last_error
    # A delivery before then is held back by the claim gate; after it, the row is taken.
    assert run_services.run_claim(model=StatementOutbox, run_pk=row.pk) is None
    StatementOutbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert run_services.run_claim(model=StatementOutbox, run_pk=row.pk) is not None


def test_statement_ids_are_stable_per_event():
    assert statements.statement_uuid("lesson.completed:1") == statements.statement_uuid(
        "lesson.completed:1"
    )
    assert statements.statement_uuid("lesson.completed:1") != statements.statement_uuid(
        "lesson.completed:2"
    )
    assert uuid.UUID(str(statements.statement_uuid("x"))).version == 5


def test_admins_see_the_outbox_and_why_a_statement_waits(lrs_down, demo_lesson, people, client):
    lesson_completion_record(user=people["resident"], lesson=demo_lesson)
    row = StatementOutbox.objects.get()
    run_services.run_execute(model_label="xapi.StatementOutbox", run_pk=row.pk)
    client.force_login(people["resident"])
    assert client.get("/django-admin/xapi/statementoutbox/").status_code == 302
    client.force_login(people["admin"])
    page = client.get("/django-admin/xapi/statementoutbox/")
    assert page.status_code == 200
    assert b"lesson.completed" in page.content and b"LRS unreachable" in page.content
    detail = client.get(f"/django-admin/xapi/statementoutbox/{row.pk}/change/")
    assert b"no answer" in detail.content
