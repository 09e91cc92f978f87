"""An educator makes an API token on its page, reads the API reference (Swagger UI, served
from the sidecar package under the site's CSP) and uses the token from a script."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.services import enrolment_create
from curriculum.services import demo_course_ensure
from tests.browser.session import log_in
from tests.factories import people_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


def test_token_page_reference_and_a_script_using_the_token(
    live_server, browser_page, screenshot_dir, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    people = people_create()
    lesson = demo_course_ensure()
    enrolment_create(user=people["resident"], course=lesson.get_parent().get_parent())
    page = browser_page
    page.add_init_script(CSP_WATCH)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, live_server.url, people["educator"].username)

    page.locator(".account-menu summary").click()  # the account menu, as a person would
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name (what will use it)").fill("Gradebook export to the LMS")
    page.get_by_role("button", name="Make a token").click()
    token = page.locator("[data-new-token]").inner_text().strip()
    assert token.startswith("wagtail_")
    expect(page.get_by_role("cell", name="Gradebook export to the LMS", exact=True)).to_be_visible()
    page.screenshot(path=screenshot_dir / "01-token-made.png", full_page=True)

    page.get_by_role("link", name="API reference").click()
    page.get_by_text("/api/v1/lab-runs/", exact=True).first.wait_for()
    page.screenshot(path=screenshot_dir / "02-api-reference.png", full_page=True)
    assert page.evaluate("window.__cspViolations") == []
    assert errors == []

    # A script with the token, no cookies: the same answers the educator gets on the pages.
    script = page.context.browser.new_context()
    try:
        answer = script.request.get(
            f"{live_server.url}/api/v1/courses/", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status == 200
        assert [course["title"] for course in answer.json()] == [
            lesson.get_parent().get_parent().title
        ]
        bank = script.request.get(
            f"{live_server.url}/api/v1/question-bank/",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert bank.status == 200
        assert script.request.get(f"{live_server.url}/api/v1/courses/").status == 401
    finally:
        script.close()
