"""The viewer works under the Content-Security-Policy every page carries: Cornerstone3D's
WebAssembly codecs, web workers and blob:/data: images, and htmx, with no violation."""

from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from tests.browser import viewer_support
from tests.browser.session import log_in
from tests.browser.viewer_support import viewer_open, viewport_pixels

viewer_library_build = viewer_support.viewer_library_build
viewer_studies = viewer_support.viewer_studies

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


def _watch(page) -> list[str]:
    """CSP violations as the page reports them, and Chromium's console refusals."""
    refused = []
    page.add_init_script(VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    return refused


def _uploaded_jpeg_ls_study(user):
    """A JPEG-LS compressed MR (pydicom's test file) stored as an educator's upload, so that
    the viewer must decode it with its WebAssembly codec."""
    from studies.services import study_store_uploaded

    data = Path(get_testdata_file("MR_small_jpeg_ls_lossless.dcm")).read_bytes()
    outcome = study_store_uploaded(files=[data], user=user)
    assert outcome.stored, outcome.failed
    return outcome.stored[0].study_instance_uid


def test_viewer_renders_under_the_csp_without_violations(
    live_server, people, viewer_studies, browser_page, screenshot_dir
):
    page = browser_page
    refused = _watch(page)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, live_server.url, people["educator"].username)

    ct = viewer_studies["chest-ct"]
    response = page.goto(f"{live_server.url}/viewer/{ct.study_instance_uid}/?slice=60")
    policy = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    viewer = viewer_open(page, f"{live_server.url}/viewer/{ct.study_instance_uid}/?slice=60")
    assert viewer.get_attribute("data-state") == "ready", viewer.locator(
        ".viewer-message"
    ).text_content()
    assert viewport_pixels(viewer, screenshot_dir / "1-ct.png").std() > 20, "blank CT"
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("window.htmx.config.allowEval") is False
    assert page.evaluate("window.__cspViolations") == []

    study_uid = _uploaded_jpeg_ls_study(people["educator"])
    viewer = viewer_open(page, f"{live_server.url}/viewer/{study_uid}/")
    assert viewer.get_attribute("data-state") == "ready", viewer.locator(
        ".viewer-message"
    ).text_content()
    assert viewport_pixels(viewer, screenshot_dir / "2-jpeg-ls.png").std() > 5, "blank MR"

    assert page.evaluate("window.__cspViolations") == []
    assert not refused, refused
    assert not errors, errors
