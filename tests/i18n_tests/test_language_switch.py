"""The header's language switch: a plain POST form (CSRF, no script) and a remembered choice."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.factories import people_create

pytestmark = pytest.mark.django_db


def _lang(response) -> str:
    return re.search(rb'<html lang="([^"]+)"', response.content).group(1).decode()


def _token(response) -> str:
    return (
        re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.content)
        .group(1)
        .decode()
    )


def test_the_header_offers_each_language_in_a_form_that_needs_no_script():
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login"))
    html = page.content.decode()
    assert _lang(page) == "en"
    form = re.search(
        r'<form method="post" action="([^"]+)"[^>]*language-switch.*?</form>', html, re.S
    )
    assert form and form.group(1) == reverse("set_language")
    assert 'name="csrfmiddlewaretoken"' in form.group(0)
    assert 'value="de" lang="de"' in form.group(0) and ">Deutsch</button>" in form.group(0)
    assert (
        'value="en" lang="en" class="link-button" aria-pressed="true" '
        'style="font-weight: 600; text-decoration: none">English' in form.group(0)
    )


def test_choosing_german_is_remembered_in_a_cookie_and_returns_to_the_page():
    client = Client(enforce_csrf_checks=True)
    login_url = reverse("login")
    page = client.get(login_url)
    response = client.post(
        reverse("set_language"),
        {"language": "de", "next": login_url, "csrfmiddlewaretoken": _token(page)},
    )
    assert response.status_code == 302 and response["Location"] == login_url
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "de" and int(cookie["max-age"]) == 365 * 24 * 60 * 60
    german = client.get(login_url)
    assert _lang(german) == "de"
    assert "Anmelden" in german.content.decode()
    assert (
        'value="de" lang="de" class="link-button" aria-pressed="true" '
        'style="font-weight: 600; text-decoration: none">Deutsch' in german.content.decode()
    )


def test_the_switch_refuses_a_post_without_its_csrf_token():
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("set_language"), {"language": "de", "next": "/"})
    assert response.status_code == 403
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_before_any_choice_the_browser_language_decides():
    page = Client().get(reverse("login"), headers={"accept-language": "de-DE,de;q=0.9,en;q=0.5"})
    assert _lang(page) == "de"


def test_a_signed_in_resident_keeps_german_after_signing_out_and_in_again():
    resident = people_create()["resident"]
    client = Client()
    client.force_login(resident)
    client.post(reverse("set_language"), {"language": "de", "next": "/"})
    client.post(reverse("logout"))  # the site's own sign-out (Client.logout drops every cookie)
    assert not client.session.get("_auth_user_id")
    client.force_login(resident)
    page = client.get(reverse("curriculum:my_progress"))
    assert page.status_code == 200 and _lang(page) == "de"
    assert "Abmelden" in page.content.decode()
