"""Single sign-on without a provider: off by default, and the claims-to-role rules.
(The flow against a real provider: test_sso_provider.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from accounts.models import Cohort, ExternalIdentity, Role
from accounts.services import SsoRefused, cohort_ensure, sso_role_from_claims, user_sign_in_by_sso

MAP = {"Student": "resident", "Faculty": "educator", "Boss": "admin"}
ALLOWED = ("resident", "educator", "examiner")


def role(claim_value):
    claims = {} if claim_value is None else {"groups": claim_value}
    return sso_role_from_claims(claims, role_claim="groups", role_map=MAP, allowed=ALLOWED)


@pytest.mark.django_db
def test_without_configuration_the_login_page_offers_no_sso_and_its_urls_are_404(client):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert "Sign in with" not in page.content.decode()
    assert client.get(reverse("sso_start")).status_code == 404
    assert client.get(reverse("sso_callback"), {"code": "c", "state": "s"}).status_code == 404


@pytest.mark.django_db
def test_the_sso_link_keeps_next_and_is_a_plain_link_under_the_csp(client, settings):
    settings.SSO_ENABLED = True
    settings.OIDC_PROVIDER_NAME = "St. Elsewhere"
    page = client.get(reverse("login"), {"next": "/labs/"})
    text = page.content.decode()
    assert f'href="{reverse("sso_start")}?next=/labs/"' in text
    assert "Sign in with St. Elsewhere" in text
    assert "form-action 'self'" in page["Content-Security-Policy"]


def test_provider_values_map_to_our_roles_and_our_own_names_map_to_themselves():
    assert role("Student") == Role.RESIDENT
    assert role("Faculty") == Role.EDUCATOR
    assert role("examiner") == Role.EXAMINER
    # A groups claim: values the map does not know are ignored when one maps.
    assert role(["staff", "vpn-users", "Faculty"]) == Role.EDUCATOR


@pytest.mark.parametrize(
    ("claim_value", "says"),
    [
        (None, "did not say which role"),
        ([], "did not say which role"),
        ("Janitor", "has no role here"),
        (["Student", "Faculty"], "more than one role"),
        ("Boss", "not given by single sign-on"),  # maps to admin, which is not allowed
        ("admin", "not given by single sign-on"),
    ],
)
def test_missing_unknown_ambiguous_or_ungranted_roles_are_refused(claim_value, says):
    with pytest.raises(SsoRefused, match=says):
        role(claim_value)


def settings_read(env: dict, expression: str) -> subprocess.CompletedProcess:
    """Read the settings module afresh in another interpreter, under this environment."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json, config.settings as s; print(json.dumps({expression}))",
        ],
        env={**os.environ, **env},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
    )


SSO_ENV = {
    "OIDC_ISSUER": "https://idp.example/realms/hospital/",
    "OIDC_RP_CLIENT_ID": "artefact",
    "OIDC_RP_CLIENT_SECRET": "s3cret",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://idp.example/auth",
    "OIDC_OP_TOKEN_ENDPOINT": "https://idp.example/token",
    "OIDC_OP_USER_ENDPOINT": "https://idp.example/userinfo",
    "OIDC_OP_JWKS_ENDPOINT": "https://idp.example/certs",
    "OIDC_ROLE_MAP": "Student=resident, Faculty = educator",
    "OIDC_ALLOWED_ROLES": "resident,educator",
}


def test_the_environment_configures_sso():
    read = settings_read(
        SSO_ENV,
        "[s.SSO_ENABLED, s.OIDC_ISSUER, s.OIDC_ROLE_MAP, s.OIDC_ALLOWED_ROLES, "
        "s.AUTHENTICATION_BACKENDS[-1]]",
    )
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout.splitlines()[-1]) == [
        True,
        "https://idp.example/realms/hospital",
        {"Student": "resident", "Faculty": "educator"},
        ["resident", "educator"],
        "accounts.sso.ArtefactOIDCBackend",
    ]


def test_a_half_configured_sso_is_refused_at_start_not_at_the_first_sign_in():
    env = {**SSO_ENV, "OIDC_OP_TOKEN_ENDPOINT": "", "OIDC_OP_JWKS_ENDPOINT": ""}
    read = settings_read(env, "s.SSO_ENABLED")
    assert read.returncode != 0
    assert "also needs: OIDC_OP_TOKEN_ENDPOINT, OIDC_OP_JWKS_ENDPOINT" in read.stderr


ISSUER = "https://idp.example"


@pytest.mark.django_db
def test_cohorts_follow_the_claim_only_when_it_is_sent(settings):
    settings.OIDC_ROLE_MAP = {}
    claims = {"sub": "42", "artefact_role": "resident", "artefact_cohort": "Residents 2027"}
    user = user_sign_in_by_sso(issuer=ISSUER, claims=claims)
    cohort_ensure(name="Journal club", members=[user])  # joined here by an admin

    user_sign_in_by_sso(issuer=ISSUER, claims={"sub": "42", "artefact_role": "resident"})
    assert set(user.cohorts.values_list("name", flat=True)) == {"Residents 2027", "Journal club"}

    user_sign_in_by_sso(issuer=ISSUER, claims={**claims, "artefact_cohort": []})
    assert not user.cohorts.exists()
    assert Cohort.objects.count() == 2


@pytest.mark.django_db
def test_a_disabled_linked_account_is_refused_and_the_same_sub_elsewhere_is_someone_else():
    claims = {"sub": "42", "artefact_role": "resident", "preferred_username": "mara"}
    user = user_sign_in_by_sso(issuer=ISSUER, claims=claims)
    assert user.username == "mara"
    other = user_sign_in_by_sso(issuer="https://other-idp.example", claims=claims)
    assert other.pk != user.pk and other.username.startswith("sso-")

    user.is_active = False
    user.save()
    with pytest.raises(SsoRefused, match="disabled"):
        user_sign_in_by_sso(issuer=ISSUER, claims=claims)
    assert ExternalIdentity.objects.count() == 2
