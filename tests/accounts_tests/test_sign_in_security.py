"""Guessing passwords is slow and noticed; production refuses demo accounts; every page
carries a Content-Security-Policy. Seen as an attacker, a resident and an admin see it."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import demo_accounts_ensure
from tests.factories import TEST_PASSWORD

ATTACKER = "203.0.113.66"
RESIDENT_HOME = "198.51.100.7"
STUDIES = "/dicomweb/studies"


def _form_login(client: Client, username: str, password: str, **meta):
    return client.post(reverse("login"), {"username": username, "password": password}, **meta)


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def rhea(people):
    return people["resident"]  # username "rhea"


def test_thirty_wrong_passwords_lock_that_account_from_that_address_only(rhea):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for guess in range(30):
        response = _form_login(attacker, "rhea", f"guess-{guess}")
        assert response.status_code in (200, 429)
    assert response.status_code == 429
    assert "Too many wrong passwords" in response.content.decode()

    # The right password from the attacker's address is refused too: guessing gained nothing.
    response = _form_login(attacker, "rhea", TEST_PASSWORD)
    assert response.status_code == 429
    assert not _signed_in(attacker)

    # Rhea, from her own address, signs in on exam day as usual.
    rhea_client = Client(REMOTE_ADDR=RESIDENT_HOME)
    assert _form_login(rhea_client, "rhea", TEST_PASSWORD).status_code == 302
    assert _signed_in(rhea_client)

    # Her success does not lift the attacker's lockout.
    assert _form_login(attacker, "rhea", TEST_PASSWORD).status_code == 429


def test_dicomweb_basic_auth_guessing_is_throttled_by_account_and_address(rhea):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    statuses = [
        attacker.get(STUDIES, HTTP_AUTHORIZATION=_basic("rhea", f"guess-{n}")).status_code
        for n in range(30)
    ]
    assert statuses[0] == 401
    assert statuses[-1] == 429
    response = attacker.get(STUDIES, HTTP_AUTHORIZATION=_basic("rhea", TEST_PASSWORD))
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/plain")
    assert "Too many failed sign-ins" in response.content.decode()
    assert int(response["Retry-After"]) > 0

    elsewhere = Client(REMOTE_ADDR=RESIDENT_HOME)
    response = elsewhere.get(STUDIES, HTTP_AUTHORIZATION=_basic("rhea", TEST_PASSWORD))
    assert response.status_code == 200


def test_a_remembered_basic_credential_does_not_lift_a_lockout(rhea):
    """DICOMweb remembers a verified Basic credential briefly (no password hash per frame):
    neither a use from elsewhere nor one from the attacker's own address before the
    guessing lets the right password through once that (account, address) is locked."""
    home = Client(REMOTE_ADDR=RESIDENT_HOME)
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for client in (home, attacker):  # both remembered now
        assert (
            client.get(STUDIES, HTTP_AUTHORIZATION=_basic("rhea", TEST_PASSWORD)).status_code == 200
        )
    statuses = [
        attacker.get(STUDIES, HTTP_AUTHORIZATION=_basic("rhea", f"guess-{n}")).status_code
        for n in range(30)
    ]
    assert statuses[0] == 401  # a wrong password is refused and counted, remembered or not
    assert statuses[-1] == 429
    response = attacker.get(STUDIES, HTTP_AUTHORIZATION=_basic("rhea", TEST_PASSWORD))
    assert response.status_code == 429
    assert home.get(STUDIES, HTTP_AUTHORIZATION=_basic("rhea", TEST_PASSWORD)).status_code == 200


def test_a_changed_password_or_deactivation_ends_a_remembered_basic_credential(rhea):
    home = Client(REMOTE_ADDR=RESIDENT_HOME)
    assert home.get(STUDIES, HTTP_AUTHORIZATION=_basic("rhea", TEST_PASSWORD)).status_code == 200
    rhea.set_password("a-new-passphrase-for-rhea")
    rhea.save()
    assert home.get(STUDIES, HTTP_AUTHORIZATION=_basic("rhea", TEST_PASSWORD)).status_code == 401
    new = _basic("rhea", "a-new-passphrase-for-rhea")
    assert home.get(STUDIES, HTTP_AUTHORIZATION=new).status_code == 200
    rhea.is_active = False
    rhea.save()
    assert home.get(STUDIES, HTTP_AUTHORIZATION=new).status_code == 401


def test_form_and_basic_failures_count_together(rhea, settings):
    """A guesser cannot double the budget by alternating the login form and DICOMweb."""
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for n in range(settings.AXES_FAILURE_LIMIT // 2):
        _form_login(attacker, "rhea", f"form-guess-{n}")
        attacker.get(STUDIES, HTTP_AUTHORIZATION=_basic("rhea", f"basic-guess-{n}"))
    assert _form_login(attacker, "rhea", TEST_PASSWORD).status_code == 429


def test_behind_a_trusted_proxy_each_client_address_counts_on_its_own(rhea, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"  # every request arrives from the reverse proxy
    attacker = Client(REMOTE_ADDR=proxy)
    for n in range(30):
        # The attacker varies the part of X-Forwarded-For it writes itself; the proxy
        # appends the address it really came from.
        _form_login(attacker, "rhea", f"guess-{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, {ATTACKER}")
    response = _form_login(
        attacker, "rhea", TEST_PASSWORD, HTTP_X_FORWARDED_FOR=f"192.0.2.99, {ATTACKER}"
    )
    assert response.status_code == 429

    rhea_client = Client(REMOTE_ADDR=proxy)
    response = _form_login(rhea_client, "rhea", TEST_PASSWORD, HTTP_X_FORWARDED_FOR=RESIDENT_HOME)
    assert response.status_code == 302


def test_admin_sees_the_failures_and_unlocks_the_account(rhea, people):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for n in range(12):
        _form_login(attacker, "rhea", f"guess-{n}")
    assert _form_login(attacker, "rhea", TEST_PASSWORD).status_code == 429

    admin = Client()
    admin.force_login(people["admin"])
    failures = admin.get("/django-admin/axes/accessfailurelog/").content.decode()
    assert "rhea" in failures
    assert ATTACKER in failures
    lockouts = admin.get("/django-admin/axes/accessattempt/").content.decode()
    assert "rhea" in lockouts

    response = admin.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "sign_in_unlock", "_selected_action": [rhea.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "failed-login record cleared" in response.content.decode()

    # Unlocked: the right password works again, even from the address that was locked.
    assert _form_login(attacker, "rhea", TEST_PASSWORD).status_code == 302
    assert _signed_in(attacker)


@pytest.mark.parametrize("password", ["Artefact", "short-1", "password1234", "1234567890123"])
def test_short_common_and_numeric_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password, User(username="rhea"))


def test_password_change_refuses_artefact_and_keeps_the_old_password(rhea):
    client = Client()
    client.force_login(rhea)
    response = client.post(
        reverse("password_change"),
        {"old_password": TEST_PASSWORD, "new_password1": "Artefact", "new_password2": "Artefact"},
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode()
    rhea.refresh_from_db()
    assert rhea.check_password(TEST_PASSWORD)


def test_test_and_demo_passwords_pass_the_validators(db):
    validate_password(TEST_PASSWORD, User(username="rhea"))
    accounts = demo_accounts_ensure()  # user_create validates every password it sets
    assert {account.username for account in accounts} == {
        "resident",
        "educator",
        "examiner",
        "examiner2",
        "admin",
    }
    assert all(len(account.password) >= 10 for account in accounts)


@pytest.fixture
def demo_resident(db):
    demo_accounts_ensure()
    demo = User.objects.get(username="resident")
    demo.set_password(TEST_PASSWORD)
    demo.save()
    return demo


def test_production_refuses_demo_accounts_by_form_basic_and_session(demo_resident, rhea, settings):
    settings.DEMO_LOGIN_ALLOWED = False  # what ARTEFACT_ENV=production sets
    form = Client()
    assert _form_login(form, "resident", TEST_PASSWORD).status_code == 200
    assert not _signed_in(form)

    basic = Client()
    assert (
        basic.get(STUDIES, HTTP_AUTHORIZATION=_basic("resident", TEST_PASSWORD)).status_code == 401
    )

    # A session opened before the switch no longer signs the demo account in.
    session = Client()
    session.force_login(demo_resident)
    assert session.get(STUDIES).status_code == 401

    # Real accounts are unaffected.
    assert _form_login(Client(), "rhea", TEST_PASSWORD).status_code == 302
    assert (
        Client().get(STUDIES, HTTP_AUTHORIZATION=_basic("rhea", TEST_PASSWORD)).status_code == 200
    )


def test_development_still_lets_demo_accounts_sign_in(demo_resident):
    client = Client()
    assert _form_login(client, "resident", TEST_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    "url",
    ["/accounts/login/", "/dicomweb/studies", "/no/such/page/", "/healthz"],
)
def test_every_response_carries_a_strict_content_security_policy(client, db, url):
    policy = client.get(url)["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert directives["object-src"] == "'none'"
    assert "blob:" in directives["worker-src"]


def test_only_the_admin_trees_allow_inline_scripts(client, people):
    client.force_login(people["admin"])
    for url in ("/cms/", "/django-admin/"):
        assert "'unsafe-inline'" in client.get(url)["Content-Security-Policy"]
    assert (
        "'unsafe-inline'"
        not in client.get("/")["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    )


def test_the_one_query_lockout_check_defers_to_axes_whenever_a_failure_is_on_record(rhea, settings):
    """A remembered DICOMweb credential is re-checked in one query (account still active, a
    failed sign-in of this account from this address within the cool-off?); axes decides
    whenever there is one, so the quick answer never lets through what axes would refuse."""
    from datetime import timedelta

    from axes.handlers.proxy import AxesProxyHandler
    from axes.models import AccessAttempt
    from django.test import RequestFactory
    from django.utils import timezone

    from accounts.throttling import active_user_and_failures

    def check(address=ATTACKER):
        return active_user_and_failures(user_pk=rhea.pk, username="rhea", address=address)

    def axes_allows(address=ATTACKER):
        request = RequestFactory().get(STUDIES, REMOTE_ADDR=address)
        return AxesProxyHandler.is_allowed(request, {"username": "rhea"})

    user, failures_on_record = check()
    assert (user, failures_on_record) == (rhea, False)
    assert axes_allows()

    attacker = Client(REMOTE_ADDR=ATTACKER)
    for n in range(settings.AXES_FAILURE_LIMIT):
        attacker.get(STUDIES, HTTP_AUTHORIZATION=_basic("rhea", f"guess-{n}"))
    assert check() == (rhea, True) and not axes_allows()  # locked: axes is asked, refuses
    assert check(RESIDENT_HOME) == (rhea, False) and axes_allows(RESIDENT_HOME)

    # Failures older than the cool-off are forgotten by both.
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    assert check() == (rhea, False) and axes_allows()

    # Another lockout rule than the one mirrored: axes answers every time.
    settings.AXES_LOCKOUT_PARAMETERS = ["username"]
    assert check() == (rhea, True)
    settings.AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]

    rhea.is_active = False
    rhea.save()
    assert check() == (None, True)


@pytest.mark.parametrize(
    "username",
    ["rhea\x00", "\x00", "r" * 151, "r" * 100_000],
    ids=["nul", "only-nul", "151", "100k"],
)
def test_a_basic_username_no_account_could_have_is_refused_as_wrong_credentials(username):
    """The login form's field refuses a NUL byte or an over-long name before any query;
    DICOMweb Basic has no form, and PostgreSQL refused such a name in axes' failure record
    (a 500). Now: 401 with the challenge, like any wrong credentials."""
    attacker = Client(REMOTE_ADDR=ATTACKER)
    response = attacker.get(STUDIES, HTTP_AUTHORIZATION=_basic(username, TEST_PASSWORD))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
