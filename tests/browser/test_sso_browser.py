"""Single sign-on in Chromium: the login page's "Sign in with ..." button, the real
provider's login and consent pages (django-oidc-provider in its own process), and back to
Artefact signed in with the mapped role, with no Content-Security-Policy violation on our
pages; then a local account signs in through the same login page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import ExternalIdentity, Role
from curriculum.services import demo_course_ensure
from tests.accounts_tests.idp import OidcProvider, sso_configure
from tests.browser.session import log_in, log_out
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@pytest.fixture(scope="module")
def provider(live_server, tmp_path_factory):
    idp = OidcProvider(
        tmp_path_factory.mktemp("idp"),
        people=[
            {
                "username": "mara",
                "password": "mara-provider-pw",
                "first_name": "Mara",
                "last_name": "Mauer",
                "email": "mara@hospital.example",
            }
        ],
        redirect_uri=live_server.url + reverse("sso_callback"),
    )
    idp.start()
    yield idp
    idp.stop()


def test_sign_in_with_the_provider_then_a_local_account(
    live_server, browser_page, provider, settings, screenshot_dir, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    demo_course_ensure()  # the site's pages (a transactional test starts from none)
    sso_configure(settings, provider)
    provider.claims_set("mara", {"artefact_role": "Faculty", "artefact_cohort": "Residents 2027"})
    UserFactory(username="lotte", first_name="Lotte", last_name="Local", role=Role.EXAMINER)
    page = browser_page
    page.add_init_script(CSP_WATCH)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Test Provider").click()
    page.locator("#idp-login").wait_for()  # the provider's own login page
    page.get_by_label("Username").fill("mara")
    page.get_by_label("Password").fill("mara-provider-pw")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Authorize").click()  # the provider's consent page
    page.locator(".account-menu summary").wait_for()
    assert page.url.startswith(live_server.url)
    assert page.locator(".account-menu .user-name").inner_text() == "Mara Mauer"
    page.screenshot(path=screenshot_dir / "01-signed-in-by-sso.png", full_page=True)
    assert page.evaluate("window.__cspViolations") == []
    user = ExternalIdentity.objects.get(issuer=provider.issuer).user
    assert user.role == Role.EDUCATOR
    assert list(user.cohorts.values_list("name", flat=True)) == ["Residents 2027"]

    log_out(page)
    log_in(page, live_server.url, "lotte")
    assert page.locator(".account-menu .user-name").inner_text() == "Lotte Local"
    assert page.evaluate("window.__cspViolations") == []
