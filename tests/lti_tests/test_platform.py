"""Artefact as an LTI 1.3 tool, launched by a real, independent platform (lti1p3platform
from PyPI, its own virtualenv and process on loopback): launch, Deep Linking, Assignment
and Grade Services, Names and Role Provisioning, and the launches that must be refused."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from lti_tool.models import LtiContext, LtiUser

from accounts.models import Enrolment, Role, User
from assessments import services as assessment_services
from grading.services import assessment_release
from lti.models import GradeLink, ScoreOutbox
from runs.models import RunStatus
from runs.services import run_execute
from tests.assessments_tests.builders import choice_question, course_of, exam, quiz
from tests.lti_tests.lms import DEPLOYMENT_ID, GRADER, INSTRUCTOR, LEARNER, LtiPlatform
from tests.lti_tests.support import Browser, form_with, forms_of, registration_create

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MEMBERS = [
    {"user_id": "learner-1", "roles": [LEARNER], "name": "Lena Learner", "status": "Active"},
    {"user_id": "learner-2", "roles": [LEARNER], "name": "Lars Learner", "status": "Active"},
    {"user_id": "teacher-1", "roles": [INSTRUCTOR], "name": "Tom Teacher", "status": "Active"},
]


@pytest.fixture(scope="module")
def platform(live_server, tmp_path_factory):
    platform = LtiPlatform(
        tmp_path_factory.mktemp("lti-platform"),
        tool_base=live_server.url,
        members=MEMBERS,
        lineitems=["quiz-item", "exam-item"],
    )
    platform.start()
    yield platform
    platform.stop()


@pytest.fixture
def registration(platform):
    return registration_create(platform.url)


def launch_url(live_server, target: str) -> str:
    return f"{live_server.url}/lti/launch/?target={target}"


def answer_and_submit(assessment, user, choices):
    attempt = assessment_services.attempt_start(assessment=assessment, user=user)
    for position, choice in enumerate(choices):
        assessment_services.response_save(
            attempt=attempt, position=position, form={"choice": [str(choice)]}
        )
    return assessment_services.attempt_submit(attempt=attempt)


def scores_for(platform, item: str) -> list[dict]:
    return [s for s in platform.received()["scores"] if s["lineitem"] == item]


def test_a_learner_launch_makes_a_resident_and_opens_the_lesson(
    platform, registration, live_server, demo_lesson
):
    someone = User.objects.create(username="same-email", email="lena@lms.test")
    browser = Browser()
    answer = browser.launch(
        platform,
        user="learner-1",
        roles=LEARNER,
        name="Lena Learner",
        email="lena@lms.test",
        target_link_uri=launch_url(live_server, f"lesson:{demo_lesson.pk}"),
    )
    assert answer.status_code == 302, answer.text
    assert urlsplit(answer.headers["Location"]).path == demo_lesson.url
    lti_user = LtiUser.objects.get(registration=registration, sub="learner-1")
    resident = lti_user.auth_user
    # Linked by (issuer, subject), never by email: the account with that email is not it.
    assert resident is not None and resident != someone and resident.role == Role.RESIDENT
    assert Enrolment.objects.filter(user=resident, course=course_of(demo_lesson)).exists()
    page = browser.get(live_server.url + demo_lesson.url)
    assert page.status_code == 200, (page.headers.get("Location"), browser.session.cookies)
    assert demo_lesson.title in page.text

    # The same person again (another browser): the same account.
    again = Browser().launch(
        platform,
        user="learner-1",
        roles=LEARNER,
        target_link_uri=launch_url(live_server, f"lesson:{demo_lesson.pk}"),
    )
    assert again.status_code == 302
    assert LtiUser.objects.get(sub="learner-1").auth_user == resident
    assert User.objects.filter(lti_users__sub="learner-1").count() == 1

    # Instructor -> educator; a Grader (settings.LTI_EXAMINER_ROLES) -> examiner.
    for sub, roles, role in [("t-1", INSTRUCTOR, Role.EDUCATOR), ("g-1", GRADER, Role.EXAMINER)]:
        answer = Browser().launch(
            platform,
            user=sub,
            roles=roles,
            target_link_uri=launch_url(live_server, f"lesson:{demo_lesson.pk}"),
        )
        assert answer.status_code == 302
        assert LtiUser.objects.get(sub=sub).auth_user.role == role


def test_deep_linking_places_a_lesson_and_a_quiz_in_the_lms(
    platform, registration, live_server, demo_lesson
):
    assessment = quiz([choice_question("DL Q1", correct=1)], title="Window quiz")
    browser = Browser()
    answer = browser.launch(platform, kind="deeplink", user="teacher-1", roles=INSTRUCTOR)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/lti/deep-link/")
    picker_url = live_server.url + "/lti/deep-link/"
    picker = browser.get(picker_url)
    assert picker.status_code == 200
    assert f'value="lesson:{demo_lesson.pk}"' in picker.text
    csrf = dict(form_with(picker.text, "data-deep-link-picker")["fields"])
    chosen = browser.session.post(
        picker_url,
        data={
            "csrfmiddlewaretoken": csrf["csrfmiddlewaretoken"],
            "target": [f"lesson:{demo_lesson.pk}", f"assessment:{assessment.pk}"],
        },
        allow_redirects=False,
    )
    assert chosen.status_code == 200, chosen.text
    assert platform.url in chosen.headers["Content-Security-Policy"].split("form-action")[1]
    returned = browser.post_form(form_with(chosen.text, "data-deep-link-return"))
    assert returned.status_code == 200, returned.text  # the platform verified our signature
    items = platform.received()["content_items"]
    assert [item["custom"]["artefact_target"] for item in items] == [
        f"lesson:{demo_lesson.pk}",
        f"assessment:{assessment.pk}",
    ]
    assert all(item["type"] == "ltiResourceLink" for item in items)
    assert items[1]["lineItem"]["resourceId"] == f"assessment:{assessment.pk}"

    # A learner opens the placed quiz as the LMS launches it: the custom parameter names it.
    answer = Browser().launch(
        platform,
        user="learner-9",
        roles=LEARNER,
        target_link_uri=items[1]["url"],
        custom=json.dumps(items[1]["custom"]),
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/assess/{assessment.pk}/")

    # A learner cannot place content.
    refused = Browser().launch(platform, kind="deeplink", user="learner-1", roles=LEARNER)
    assert refused.status_code == 403 and "Only educators" in refused.text


def test_scores_reach_the_platform_only_once_released(
    platform, registration, live_server, demo_lesson, eager_tasks, settings
):
    settings.LTI_RETRY_BASE_SECONDS = 0.01
    course = course_of(demo_lesson)
    the_quiz = quiz(
        [choice_question("Q1", correct=1), choice_question("Q2", correct=0)], course=course
    )
    the_exam = exam(
        [choice_question("E1", correct=1), choice_question("E2", correct=2)],
        course=course,
        title="Final",
    )
    for target, item in [(the_quiz, "quiz-item"), (the_exam, "exam-item")]:
        answer = Browser().launch(
            platform,
            user="learner-1",
            roles=LEARNER,
            lineitem=item,
            target_link_uri=launch_url(live_server, f"assessment:{target.pk}"),
        )
        assert answer.status_code == 302, answer.text
    resident = LtiUser.objects.get(sub="learner-1").auth_user
    assert GradeLink.objects.filter(lti_user__auth_user=resident).count() == 2

    # A quiz's score is the resident's at once: sent on submit (1 of 2 right).
    answer_and_submit(the_quiz, resident, [1, 1])
    [score] = scores_for(platform, "quiz-item")
    assert (score["scoreGiven"], score["scoreMaximum"]) == (1.0, 2.0)
    assert score["userId"] == "learner-1" and score["gradingProgress"] == "FullyGraded"

    # An exam's is not, before its results are released ...
    answer_and_submit(the_exam, resident, [1, 2])
    assert scores_for(platform, "exam-item") == []
    assert not ScoreOutbox.objects.filter(attempt__assessment=the_exam).exists()

    # ... and the platform is down when they are: the score waits, then arrives.
    platform.stop()
    try:
        assessment_release(
            assessment=the_exam, by=User.objects.create(username="boss", role=Role.ADMIN)
        )
        row = ScoreOutbox.objects.get(attempt__assessment=the_exam)
        row.refresh_from_db()
        assert row.status == RunStatus.QUEUED and row.send_tries >= 1 and row.last_error
    finally:
        platform.start()
    deadline = time.monotonic() + 30
    while row.status != RunStatus.SUCCEEDED and time.monotonic() < deadline:
        time.sleep(0.05)
        run_execute(model_label="lti.ScoreOutbox", run_pk=row.pk)
        row.refresh_from_db()
    assert row.status == RunStatus.SUCCEEDED, row.last_error
    [exam_score] = scores_for(platform, "exam-item")
    assert (exam_score["scoreGiven"], exam_score["scoreMaximum"]) == (2.0, 2.0)
    # Released again (saved again): nothing new is queued for the same score.
    the_exam.save()
    assert ScoreOutbox.objects.filter(attempt__assessment=the_exam).count() == 1


def test_the_roster_comes_from_names_and_roles(platform, registration, live_server, demo_lesson):
    browser = Browser()
    answer = browser.launch(
        platform,
        user="teacher-1",
        roles=INSTRUCTOR,
        target_link_uri=launch_url(live_server, f"module:{demo_lesson.get_parent().pk}"),
    )
    assert answer.status_code == 302
    context = LtiContext.objects.get(id_on_platform="course-1")
    roster_path = f"/lti/courses/{context.pk}/roster/"
    courses = browser.get(live_server.url + "/lti/courses/")
    assert courses.status_code == 200 and roster_path in courses.text
    page = browser.get(live_server.url + roster_path)
    assert page.status_code == 200
    csrf = [
        f for form in forms_of(page.text) for f in form["fields"] if f[0] == "csrfmiddlewaretoken"
    ]
    fetched = browser.session.post(live_server.url + roster_path, data=csrf, allow_redirects=True)
    assert fetched.status_code == 200
    assert 'data-member="learner-2"' in fetched.text
    learners = User.objects.filter(lti_users__sub__in=["learner-1", "learner-2"])
    assert learners.count() == 2 and {u.role for u in learners} == {Role.RESIDENT}
    course = course_of(demo_lesson)
    assert Enrolment.objects.filter(user__in=learners, course=course).count() == 2
    assert not Enrolment.objects.filter(user__lti_users__sub="teacher-1").exists()


def _claims(platform, nonce: str, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": platform.url,
        "aud": "artefact-tool",
        "sub": "learner-x",
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiResourceLinkRequest",
        "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
        "https://purl.imsglobal.org/spec/lti/claim/deployment_id": DEPLOYMENT_ID,
        "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": "http://tool/lti/launch/",
        "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": "link-x"},
        "https://purl.imsglobal.org/spec/lti/claim/roles": [LEARNER],
    }
    claims.update(overrides)
    return claims


def test_bad_and_replayed_launches_get_a_clear_page(platform, registration, live_server):
    def login(browser):
        """The tool's login step: a state (cookie) and a nonce it issued."""
        answer = browser.get(
            f"{live_server.url}/lti/login/{registration.uuid}/",
            params={
                "iss": platform.url,
                "login_hint": "learner-x",
                "client_id": "artefact-tool",
                "target_link_uri": f"{live_server.url}/lti/launch/",
            },
        )
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        return query["state"][0], query["nonce"][0]

    def post(browser, state, id_token):
        return browser.session.post(
            f"{live_server.url}/lti/launch/",
            data={"state": state, "id_token": id_token},
            allow_redirects=False,
        )

    outcomes = {}
    browser = Browser()
    state, nonce = login(browser)
    outcomes["wrong nonce"] = post(browser, state, platform.sign(_claims(platform, "not-ours")))
    state, nonce = login(browser)
    expired = _claims(platform, nonce, iat=int(time.time()) - 900, exp=int(time.time()) - 600)
    outcomes["expired"] = post(browser, state, platform.sign(expired))
    state, nonce = login(browser)
    unsigned = ".".join(
        [
            _b64({"alg": "none", "typ": "JWT"}),
            _b64(_claims(platform, nonce)),
            "",
        ]
    )
    outcomes["unsigned"] = post(browser, state, unsigned)
    state, nonce = login(browser)
    outcomes["unknown issuer"] = post(
        browser, state, platform.sign(_claims(platform, nonce, iss="http://127.0.0.1:9/unknown"))
    )
    state, nonce = login(browser)
    unknown_deployment = _claims(
        platform, nonce, **{"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "other"}
    )
    outcomes["unknown deployment"] = post(browser, state, platform.sign(unknown_deployment))
    outcomes["no id_token"] = post(browser, "x", "")
    outcomes["garbage"] = post(browser, state, "a.b.c")

    # A genuine launch, then the same id_token posted again (a replay).
    real = Browser()
    first = real.launch(platform, user="learner-r", roles=LEARNER)
    assert first.status_code == 302, first.text
    outcomes["replayed"] = real.post_form(real.last_form)

    statuses = {name: answer.status_code for name, answer in outcomes.items()}
    assert statuses == {
        "wrong nonce": 400,
        "expired": 400,
        "unsigned": 400,
        "unknown issuer": 400,
        "unknown deployment": 403,
        "no id_token": 400,
        "garbage": 400,
        "replayed": 400,
    }
    for name, answer in outcomes.items():
        assert "data-lti-refused" in answer.text, name
    assert "already used" in outcomes["replayed"].text
    assert "not enabled" in outcomes["unknown deployment"].text
    assert not LtiUser.objects.filter(sub="learner-x", auth_user__isnull=False).exists()


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
