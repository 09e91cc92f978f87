"""A person's browser across Artefact and the OpenID provider, for the single sign-on tests.

Artefact is reached through Django's test client, the provider over real HTTP (its own
process); redirects are followed by hand from one site to the other, and the provider's
forms (its login page, its consent page) are read and posted as a browser would, with the
hidden fields they carry (CSRF token, the authorization request's parameters).
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import requests
from bs4 import BeautifulSoup
from django.test import Client
from django.urls import reverse

ARTEFACT = "http://testserver"
REDIRECTS = {301, 302, 303, 307, 308}


class SsoBrowser:
    def __init__(self, client: Client, provider_url: str) -> None:
        self.client = client
        self.provider_url = provider_url
        self.web = requests.Session()

    def go(self, url: str, *, stop_at_callback: bool = False):
        """GET url and follow redirects across both sites. Returns the last response, or,
        with stop_at_callback, the URL of Artefact's callback the provider sent us to."""
        for _hop in range(20):
            if url.startswith(self.provider_url):
                response = self.web.get(url, allow_redirects=False, timeout=30)
                if response.status_code in REDIRECTS:
                    url = urljoin(url, response.headers["Location"])
                    continue
                return response
            parts = urlsplit(urljoin(ARTEFACT, url))
            if stop_at_callback and parts.path == reverse("sso_callback"):
                return parts.geturl()
            response = self.client.get(f"{parts.path}?{parts.query}" if parts.query else parts.path)
            if response.status_code in REDIRECTS:
                url = urljoin(parts.geturl(), response["Location"])
                continue
            return response
        raise AssertionError(f"Too many redirects, last at {url}")

    def submit(self, page: requests.Response, fields: dict, *, stop_at_callback: bool = False):
        """Post the provider page's form with its own fields plus `fields` (a submit
        button's name and value included only when given), then follow where it leads."""
        form = BeautifulSoup(page.text, "html.parser").find("form")
        assert form is not None, f"No form at {page.url}:\n{page.text[:2000]}"
        data = {
            field["name"]: field.get("value", "")
            for field in form.find_all("input")
            if field.get("name") and field.get("type") != "submit"
        }
        data.update(fields)
        action = urljoin(page.url, form.get("action") or page.url)
        response = self.web.post(action, data=data, allow_redirects=False, timeout=30)
        if response.status_code in REDIRECTS:
            return self.go(
                urljoin(action, response.headers["Location"]), stop_at_callback=stop_at_callback
            )
        return response

    def sign_in(
        self,
        username: str,
        password: str,
        *,
        allow: bool = True,
        stop_at_callback: bool = False,
        next_url: str = "",
    ):
        """Press "Sign in with ..." on Artefact's login page, sign in at the provider
        (unless still signed in there), answer its consent page, come back."""
        start = reverse("sso_start") + (f"?next={next_url}" if next_url else "")
        page = self.go(start, stop_at_callback=stop_at_callback)
        if isinstance(page, requests.Response) and 'name="password"' in page.text:
            page = self.submit(
                page,
                {"username": username, "password": password},
                stop_at_callback=stop_at_callback,
            )
        if isinstance(page, requests.Response) and "Request for Permission" in page.text:
            page = self.submit(
                page, {"allow": "Authorize"} if allow else {}, stop_at_callback=stop_at_callback
            )
        return page
