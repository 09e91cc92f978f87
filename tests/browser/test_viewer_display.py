"""The viewer in Chromium against the live server's DICOMweb: CT renders, scrolls and
windows; MONOCHROME1 shows air dark; a length measurement reads the right mm; marks placed
on the image reach the server in the right coordinates; refused studies say so."""

import json

import numpy as np
import pydicom
import pytest
from playwright.sync_api import expect

from studies.selectors import library_root
from tests.browser import viewer_support
from tests.browser.session import log_in
from tests.browser.viewer_support import slice_wait, viewer_open, viewport_pixels

# Fixtures shared by the viewer's browser tests.
viewer_library_build = viewer_support.viewer_library_build
viewer_studies = viewer_support.viewer_studies

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _series(study, modality):
    return study.series.get(modality=modality)


def test_ct_renders_scrolls_and_windows(
    live_server, people, viewer_studies, browser_page, screenshot_dir
):
    page = browser_page
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: print("console:", message.type, message.text))
    outside = []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((live_server.url, "data:", "blob:"))
            else outside.append(request.url)
        ),
    )
    log_in(page, live_server.url, people["educator"].username)
    ct = viewer_studies["chest-ct"]
    viewer = viewer_open(page, f"{live_server.url}/viewer/{ct.study_instance_uid}/?slice=60")
    assert viewer.get_attribute("data-state") == "ready", viewer.locator(
        ".viewer-message"
    ).text_content()
    page.screenshot(path=screenshot_dir / "0-page.png", full_page=True)

    first = viewport_pixels(viewer, screenshot_dir / "1-slice-60.png")
    assert first.std() > 20, "the CT image is blank"
    assert viewer.locator("[data-corner=tr]").text_content() == "Im 60/133"

    viewer.locator(".viewer-viewport").focus()
    for _ in range(15):
        page.keyboard.press("ArrowDown")
    slice_wait(viewer, 75)
    scrolled = viewport_pixels(viewer, screenshot_dir / "2-slice-75.png")
    assert np.abs(scrolled - first).mean() > 2, "scrolling did not change the image"

    viewer.locator(".viewer-preset").select_option("lung")
    lung = viewport_pixels(viewer, screenshot_dir / "3-lung-window.png")
    assert np.abs(lung - scrolled).mean() > 5, "the lung window did not change the image"
    assert viewer.locator("[data-corner=bl]").text_content() == "W 1500 L -600"

    page.keyboard.press("?")
    expect(viewer.locator(".viewer-help")).to_be_visible()
    page.screenshot(path=screenshot_dir / "4-help.png")
    page.keyboard.press("Escape")
    expect(viewer.locator(".viewer-help")).to_be_hidden()
    assert not errors, errors
    assert not outside, outside


def test_monochrome1_shows_air_dark(
    live_server, people, viewer_studies, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["educator"].username)
    cr = viewer_studies["chest-cr"]
    instance = _series(cr, "CR").instances.get()
    assert instance.photometric_interpretation == "MONOCHROME1"
    viewer = viewer_open(page, f"{live_server.url}/viewer/{cr.study_instance_uid}/")
    assert viewer.get_attribute("data-state") == "ready"
    pixels = viewport_pixels(viewer, screenshot_dir / "chest-cr.png")
    rows, columns = pixels.shape
    # The PA chest fills the middle; the lungs (air) either side of the mediastinum must be
    # darker than the spine/mediastinum between them, as on any chest film.
    band = pixels[int(rows * 0.35) : int(rows * 0.55)]
    lungs = np.concatenate(
        [
            band[:, int(columns * 0.30) : int(columns * 0.40)],
            band[:, int(columns * 0.60) : int(columns * 0.70)],
        ],
        axis=1,
    )
    mediastinum = band[:, int(columns * 0.47) : int(columns * 0.53)]
    assert lungs.mean() + 20 < mediastinum.mean(), (lungs.mean(), mediastinum.mean())


def test_length_measurement_reads_millimetres(
    live_server, people, viewer_studies, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["educator"].username)
    ct = viewer_studies["chest-ct"]
    viewer = viewer_open(page, f"{live_server.url}/viewer/{ct.study_instance_uid}/?slice=60")
    instance = _series(ct, "CT").instances.order_by("instance_number")[59]
    spacing = [float(v) for v in pydicom.dcmread(library_root() / instance.file_path).PixelSpacing]

    viewer.get_by_role("button", name="Length").click()
    # Pixel centres 200 columns apart on one row: 200 x column spacing (PS3.3 C.7.6.2.1.1).
    start, end = page.evaluate(
        """([root]) => {
          const v = document.querySelector('[data-viewer]').artefactViewer;
          return [[156.5, 256.5], [356.5, 256.5]].map((p) => v.imageToPage(p));
        }""",
        [None],
    )
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, start[1], steps=5)
    page.mouse.move(*end, steps=5)
    page.mouse.up()
    viewport_pixels(viewer, screenshot_dir / "length.png")
    lengths = page.evaluate(
        "() => document.querySelector('[data-viewer]').artefactViewer.lengthsMm()"
    )
    assert len(lengths) == 1
    assert lengths[0] == pytest.approx(200 * spacing[1], abs=0.5)


def test_points_round_trip_to_the_server(
    live_server, people, viewer_studies, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["educator"].username)
    ct = viewer_studies["chest-ct"]
    viewer = viewer_open(
        page, f"{live_server.url}/viewer/{ct.study_instance_uid}/?slice=70&answer=1"
    )
    instance = _series(ct, "CT").instances.order_by("instance_number")[69]
    ds = pydicom.dcmread(library_root() / instance.file_path)
    viewer.get_by_role("button", name="Point").click()
    target = page.evaluate(
        "() => document.querySelector('[data-viewer]').artefactViewer.imageToPage([300.5, 200.5])"
    )
    page.mouse.click(*target)
    viewport_pixels(viewer, screenshot_dir / "point.png")
    page.get_by_label("Your finding").fill("Hilar mass")
    page.get_by_role("button", name="Submit the marks").click()
    received = json.loads(page.locator("#received-marks").text_content())
    page.screenshot(path=screenshot_dir / "received.png", full_page=True)

    assert received["studyInstanceUID"] == ct.study_instance_uid
    (mark,) = received["marks"]
    assert mark["kind"] == "point" and mark["slice"] == 70
    assert mark["sopInstanceUID"] == instance.sop_instance_uid
    column, row = mark["image"][0]
    assert column == pytest.approx(300.5, abs=1) and row == pytest.approx(200.5, abs=1)
    # Patient LPS from the image plane (PS3.3 C.7.6.2.1.1), pixel centre (c, r) -> mm.
    origin = np.array([float(v) for v in ds.ImagePositionPatient])
    cosines = np.array([float(v) for v in ds.ImageOrientationPatient])
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    expected = (
        origin
        + cosines[:3] * column_spacing * (column - 0.5)
        + cosines[3:] * row_spacing * (row - 0.5)
    )
    assert np.allclose(mark["patient"][0], expected, atol=0.5)


def test_a_study_the_user_may_not_see_is_refused_clearly(
    live_server, people, viewer_studies, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["outsider"].username)
    ct = viewer_studies["chest-ct"]
    viewer = viewer_open(page, f"{live_server.url}/viewer/{ct.study_instance_uid}/")
    assert viewer.get_attribute("data-state") == "error"
    message = viewer.locator(".viewer-message")
    expect(message).to_be_visible()
    assert "do not have access" in message.text_content()
    page.screenshot(path=screenshot_dir / "refused.png", full_page=True)


def test_a_browser_without_webgl2_is_told_so(
    live_server, people, viewer_studies, browser_page, screenshot_dir
):
    page = browser_page
    page.add_init_script(
        """(() => {
          const original = HTMLCanvasElement.prototype.getContext;
          HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
            return kind === "webgl2" ? null : original.call(this, kind, ...rest);
          };
        })()"""
    )
    log_in(page, live_server.url, people["educator"].username)
    ct = viewer_studies["chest-ct"]
    viewer = viewer_open(page, f"{live_server.url}/viewer/{ct.study_instance_uid}/")
    assert viewer.get_attribute("data-state") == "error"
    assert "WebGL 2" in viewer.locator(".viewer-message").text_content()
    page.screenshot(path=screenshot_dir / "no-webgl2.png")
