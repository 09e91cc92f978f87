"""What the LTI tests share: the registration of the test platform, and a browser (a
requests session) that follows an LMS launch the way a browser does."""

from __future__ import annotations

from html.parser import HTMLParser

import requests
from lti_tool.models import LtiDeployment, LtiRegistration

from lti import services
from tests.lti_tests.lms import CLIENT_ID, DEPLOYMENT_ID, REGISTRATION_UUID


def registration_create(platform_url: str, *, active_deployment: bool = True) -> LtiRegistration:
    """What an admin enters in the Django admin for this platform."""
    services.tool_key_ensure()
    registration = LtiRegistration.objects.create(
        name="Test LMS",
        uuid=REGISTRATION_UUID,
        issuer=platform_url,
        client_id=CLIENT_ID,
        auth_url=f"{platform_url}/authorize",
        token_url=f"{platform_url}/token",
        keyset_url=f"{platform_url}/jwks",
    )
    LtiDeployment.objects.create(
        registration=registration, deployment_id=DEPLOYMENT_ID, is_active=active_deployment
    )
    return registration


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"attrs": attrs, "fields": []})
        elif tag == "input" and self.forms and attrs.get("name"):
            if attrs.get("type") == "checkbox":
                return
            self.forms[-1]["fields"].append((attrs["name"], attrs.get("value", "")))


def forms_of(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def form_with(html: str, attribute: str) -> dict:
    return next(form for form in forms_of(html) if attribute in form["attrs"])


class Browser:
    """A person's browser: cookies kept, redirects followed one by one."""

    def __init__(self) -> None:
        self.session = requests.Session()

    def launch(self, platform, **spec) -> requests.Response:
        """Open an activity in the LMS: platform -> tool login -> platform authorisation ->
        the auto-posted id_token -> the tool's answer (not followed)."""
        spec.setdefault("kind", "resource")
        answer = self.session.get(f"{platform.url}/start", params=spec, allow_redirects=False)
        assert answer.status_code == 302, answer.text
        answer = self.session.get(answer.headers["Location"], allow_redirects=False)
        if answer.status_code != 302:
            return answer
        answer = self.session.get(answer.headers["Location"], allow_redirects=False)
        assert answer.status_code == 200, answer.text
        self.last_form = forms_of(answer.text)[0]
        return self.post_form(self.last_form)

    def post_form(self, form: dict, extra=()) -> requests.Response:
        return self.session.post(
            form["attrs"]["action"], data=[*form["fields"], *extra], allow_redirects=False
        )

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.session.get(url, allow_redirects=False, **kwargs)
