"""The LTI tool's own rules, without a platform: role mapping, the tool's persisted key,
and the iframe relaxations that hold for the LTI flow only."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore
from django.http import HttpResponse
from django.test import RequestFactory
from lti_tool.models import LtiRegistration

from accounts.models import Role
from lti.middleware import LtiCookieMiddleware
from lti.services import SESSION_FRAME_ORIGINS, role_from_claims
from tests.lti_tests.lms import GRADER, INSTRUCTOR, LEARNER

pytestmark = pytest.mark.django_db


def test_platform_roles_map_to_artefact_roles(settings):
    assert role_from_claims([LEARNER]) == Role.RESIDENT
    assert role_from_claims(["Learner"]) == Role.RESIDENT  # short context roles (LTI 1.3 §A.2.2)
    assert role_from_claims([INSTRUCTOR]) == Role.EDUCATOR
    assert role_from_claims(["Instructor", LEARNER]) == Role.EDUCATOR
    assert role_from_claims([INSTRUCTOR, GRADER]) == Role.EXAMINER
    assert role_from_claims([]) == Role.RESIDENT
    settings.LTI_EXAMINER_ROLES = [INSTRUCTOR]
    assert role_from_claims(["Instructor"]) == Role.EXAMINER


def test_the_tool_key_is_made_once_and_kept(client):
    first = client.get("/lti/jwks/").json()
    second = client.get("/lti/jwks/").json()
    assert first == second and len(first["keys"]) == 1
    assert first["keys"][0]["alg"] == "RS256" and "d" not in first["keys"][0]


def _registration():
    return LtiRegistration.objects.create(
        name="LMS",
        issuer="https://lms.example.org",
        client_id="c",
        auth_url="https://auth.example.org/authorize",
        token_url="https://auth.example.org/token",
        keyset_url="https://auth.example.org/jwks",
    )


def test_only_the_lti_flow_may_be_framed_by_its_platform(client, people):
    _registration()
    lti_page = client.get("/lti/jwks/")
    policy = lti_page["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://lms.example.org https://auth.example.org" in policy
    assert "X-Frame-Options" not in lti_page
    other = client.get("/healthz")
    assert "https://lms.example.org" not in other["Content-Security-Policy"]
    assert other["X-Frame-Options"] in ("DENY", "SAMEORIGIN")
    # A session an LTI launch signed in is framed by its platform on every page ...
    client.force_login(people["resident"])
    session = client.session
    session[SESSION_FRAME_ORIGINS] = ["https://lms.example.org"]
    session.save()
    framed = client.get("/learn/progress/")
    assert "frame-ancestors 'self' https://lms.example.org" in framed["Content-Security-Policy"]
    # ... one signed in at our login page is not.
    client.logout()
    client.force_login(people["educator"])
    assert "lms.example.org" not in client.get("/learn/progress/")["Content-Security-Policy"]


def test_lti_flow_cookies_are_samesite_none_and_secure_over_https():
    factory = RequestFactory()

    def answer(request):
        response = HttpResponse()
        response.set_cookie(settings.SESSION_COOKIE_NAME, "s", samesite="Lax")
        return response

    def session(**values):
        store = SessionStore()
        store.update(values)  # loaded, as a view that read it leaves it
        return store

    middleware = LtiCookieMiddleware(answer)
    launch = factory.post("/lti/launch/", secure=True)
    launch.session = session()
    cookie = middleware(launch).cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["samesite"] == "None" and cookie["secure"] is True
    framed_session = factory.get("/learn/progress/", secure=True)
    framed_session.session = session(**{SESSION_FRAME_ORIGINS: ["https://lms.example.org"]})
    assert middleware(framed_session).cookies[settings.SESSION_COOKIE_NAME]["samesite"] == "None"
    elsewhere = factory.get("/learn/progress/", secure=True)
    elsewhere.session = session()
    assert middleware(elsewhere).cookies[settings.SESSION_COOKIE_NAME]["samesite"] == "Lax"
    plain_http = factory.post("/lti/launch/")
    plain_http.session = session()
    assert middleware(plain_http).cookies[settings.SESSION_COOKIE_NAME]["samesite"] == "Lax"
