"""Single sign-on against a real OpenID provider (django-oidc-provider in its own virtualenv
and process, tests/accounts_tests/idp.py): the whole authorization-code flow with PKCE, state
and nonce, as a person's browser walks it, and every way it can go wrong."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Cohort, ExternalIdentity, Role, User
from tests.accounts_tests.idp import OidcProvider, sso_configure
from tests.accounts_tests.sso_browser import SsoBrowser
from tests.factories import TEST_PASSWORD, UserFactory

PROVIDER_PEOPLE = [
    {
        "username": "mara",
        "password": "mara-provider-pw",
        "first_name": "Mara",
        "last_name": "Mauer",
        "email": "mara@hospital.example",
    },
    {
        "username": "rhea",  # the same user name as a local account of Artefact
        "password": "rhea-provider-pw",
        "first_name": "Rhea",
        "last_name": "Elsewhere",
        "email": "rhea.local@artefact.example",  # and the same e-mail address
    },
]
PASSWORDS = {person["username"]: person["password"] for person in PROVIDER_PEOPLE}


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    idp = OidcProvider(
        tmp_path_factory.mktemp("idp"),
        people=PROVIDER_PEOPLE,
        redirect_uri="http://testserver" + reverse("sso_callback"),
    )
    idp.start()
    yield idp
    idp.stop()


@pytest.fixture
def sso(settings, provider):
    return sso_configure(settings, provider)


@pytest.fixture
def browser(client, sso):
    return SsoBrowser(client, sso.url)


def signed_in_user(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def refusal(response, status: int) -> str:
    assert response.status_code == status, response.content[:2000]
    text = response.content.decode()
    assert "Sign-in with Test Provider failed" in text
    return text


@pytest.mark.django_db
def test_first_sign_in_makes_the_account_with_role_and_cohort_from_the_claims(sso, browser):
    sso.claims_set("mara", {"artefact_role": "Faculty", "artefact_cohort": "Residents 2027"})

    home = browser.sign_in("mara", PASSWORDS["mara"])

    assert home.status_code == 200
    user = signed_in_user(browser.client)
    assert user is not None and user.role == Role.EDUCATOR
    assert (user.first_name, user.last_name, user.email) == (
        "Mara",
        "Mauer",
        "mara@hospital.example",
    )
    assert not user.has_usable_password()
    assert list(user.cohorts.values_list("name", flat=True)) == ["Residents 2027"]
    # Educators are Wagtail Editors: the role went through accounts.services.user_role_set.
    assert user.groups.filter(name="Editors").exists()
    identity = ExternalIdentity.objects.get(user=user)
    assert identity.issuer == sso.issuer and identity.subject
    assert identity.last_sign_in_at is not None


@pytest.mark.django_db
def test_a_changed_role_claim_changes_role_groups_and_cohort_at_the_next_sign_in(
    sso, browser, client
):
    sso.claims_set("mara", {"artefact_role": "Faculty", "artefact_cohort": "Residents 2027"})
    browser.sign_in("mara", PASSWORDS["mara"])
    first = signed_in_user(client)
    client.post(reverse("logout"))
    assert signed_in_user(client) is None

    sso.claims_set("mara", {"artefact_role": "Student", "artefact_cohort": ["Residents 2028"]})
    browser.sign_in("mara", PASSWORDS["mara"])

    again = signed_in_user(client)
    assert again.pk == first.pk and User.objects.filter(first_name="Mara").count() == 1
    assert again.role == Role.RESIDENT
    assert not again.groups.filter(name="Editors").exists()
    assert list(again.cohorts.values_list("name", flat=True)) == ["Residents 2028"]
    assert Cohort.objects.filter(name="Residents 2027").exists()  # left, not deleted


@pytest.mark.django_db
def test_a_local_account_still_signs_in_beside_single_sign_on(sso, client):
    page = client.get(reverse("login"))
    assert "Sign in with Test Provider" in page.content.decode()
    local = UserFactory(username="lotte", role=Role.EXAMINER)

    response = client.post(reverse("login"), {"username": "lotte", "password": TEST_PASSWORD})

    assert response.status_code == 302
    assert signed_in_user(client) == local
    assert not ExternalIdentity.objects.exists()


@pytest.mark.django_db
def test_same_user_name_and_email_as_a_local_account_make_a_new_account(sso, browser):
    local = UserFactory(username="rhea", email="rhea.local@artefact.example", role=Role.RESIDENT)
    sso.claims_set("rhea", {"artefact_role": "Faculty"})

    browser.sign_in("rhea", PASSWORDS["rhea"])

    user = signed_in_user(browser.client)
    assert user is not None and user.pk != local.pk
    assert user.username.startswith("sso-")
    local.refresh_from_db()
    assert local.role == Role.RESIDENT and not local.external_identities.exists()


@pytest.mark.django_db
def test_an_unknown_or_missing_role_is_refused_with_a_page_and_nothing_is_made(sso, browser):
    sso.claims_set("mara", {"artefact_role": "Janitor"})
    text = refusal(browser.sign_in("mara", PASSWORDS["mara"]), 403)
    assert "Janitor" in text and "has no role here" in text

    sso.claims_set("mara", {})
    text = refusal(browser.sign_in("mara", PASSWORDS["mara"]), 403)
    assert "did not say which role" in text

    sso.claims_set("mara", {"artefact_role": "admin"})  # ours, but not granted by SSO
    refusal(browser.sign_in("mara", PASSWORDS["mara"]), 403)

    assert signed_in_user(browser.client) is None
    assert not ExternalIdentity.objects.exists() and not User.objects.exists()


@pytest.mark.django_db
def test_declined_consent_ends_on_a_page_not_signed_in(sso, browser):
    sso.claims_set("mara", {"artefact_role": "Student"})
    text = refusal(browser.sign_in("mara", PASSWORDS["mara"], allow=False), 403)
    assert "did not allow" in text
    assert signed_in_user(browser.client) is None


@pytest.mark.django_db
def test_a_forged_or_replayed_state_is_refused(sso, browser):
    sso.claims_set("mara", {"artefact_role": "Student"})
    callback = browser.sign_in("mara", PASSWORDS["mara"], stop_at_callback=True)
    parts = urlsplit(callback)
    query = dict(parse_qsl(parts.query))

    forged = browser.go(f"{parts.path}?{urlencode({**query, 'state': 'not-ours'})}")
    assert "not started here" in refusal(forged, 400)
    assert signed_in_user(browser.client) is None

    assert browser.go(callback).status_code == 200  # the real one signs in
    assert signed_in_user(browser.client) is not None
    replayed = browser.go(callback)  # the state was used up
    assert "already used" in refusal(replayed, 400)


@pytest.mark.django_db
def test_a_wrong_pkce_verifier_is_refused_by_the_provider(sso, browser):
    sso.claims_set("mara", {"artefact_role": "Student"})
    callback = browser.sign_in("mara", PASSWORDS["mara"], stop_at_callback=True)
    state = dict(parse_qsl(urlsplit(callback).query))["state"]
    session = browser.client.session
    session["oidc_states"][state]["code_verifier"] = "x" * 64  # not the one the challenge hid
    session.save()

    assert "did not accept" in refusal(browser.go(callback), 400)
    assert signed_in_user(browser.client) is None


@pytest.mark.django_db
def test_an_id_token_with_another_nonce_is_refused(sso, browser):
    sso.claims_set("mara", {"artefact_role": "Student"})
    callback = browser.sign_in("mara", PASSWORDS["mara"], stop_at_callback=True)
    state = dict(parse_qsl(urlsplit(callback).query))["state"]
    session = browser.client.session
    session["oidc_states"][state]["nonce"] = "another-nonce"
    session.save()

    assert "could not be verified" in refusal(browser.go(callback), 400)
    assert signed_in_user(browser.client) is None


@pytest.mark.django_db
def test_an_id_token_from_another_issuer_is_refused(sso, browser, settings):
    """The token is genuine, but its issuer is not the one we are configured to trust
    (OIDC Core 3.1.3.7; mozilla-django-oidc checks only signature, expiry and nonce)."""
    sso.claims_set("mara", {"artefact_role": "Student"})
    callback = browser.sign_in("mara", PASSWORDS["mara"], stop_at_callback=True)
    settings.OIDC_ISSUER = sso.issuer + "-elsewhere"

    assert "could not be verified" in refusal(browser.go(callback), 400)
    assert signed_in_user(browser.client) is None


@pytest.mark.django_db
def test_a_provider_that_is_down_at_the_callback_gives_a_page(sso, browser):
    sso.claims_set("mara", {"artefact_role": "Student"})
    callback = browser.sign_in("mara", PASSWORDS["mara"], stop_at_callback=True)
    sso.stop()
    try:
        assert "cannot be reached" in refusal(browser.go(callback), 502)
        assert signed_in_user(browser.client) is None
    finally:
        sso.start()


@pytest.mark.django_db
def test_a_locked_out_local_account_stays_locked_while_single_sign_on_works(sso, browser, settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="lotte", role=Role.EXAMINER)
    for _ in range(3):
        browser.client.post(reverse("login"), {"username": "lotte", "password": "wrong"})
    locked = browser.client.post(reverse("login"), {"username": "lotte", "password": TEST_PASSWORD})
    assert locked.status_code == 429

    sso.claims_set("mara", {"artefact_role": "Student"})
    assert browser.sign_in("mara", PASSWORDS["mara"]).status_code == 200
    assert signed_in_user(browser.client).first_name == "Mara"

    other = Client()
    again = other.post(reverse("login"), {"username": "lotte", "password": TEST_PASSWORD})
    assert again.status_code == 429


@pytest.mark.django_db
def test_next_is_kept_through_the_provider(sso, browser):
    sso.claims_set("mara", {"artefact_role": "Student"})
    page = browser.sign_in("mara", PASSWORDS["mara"], next_url=reverse("labs:run_list"))
    assert page.status_code == 200
    assert page.request["PATH_INFO"] == reverse("labs:run_list")
