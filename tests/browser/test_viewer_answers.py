"""Answers on images in Chromium: boxes and outlines drawn with the mouse reach the server in
image coordinates and in patient (LPS) coordinates that follow from the slice's geometry; a
form returned with an error keeps the marks (drawn again, posted again unchanged)."""

import json

import numpy as np
import pydicom
import pytest

from studies.selectors import library_root
from tests.browser import viewer_support
from tests.browser.session import log_in
from tests.browser.viewer_support import viewer_call, viewer_open, viewport_pixels

# Fixtures shared by the viewer's browser tests.
viewer_library_build = viewer_support.viewer_library_build
viewer_studies = viewer_support.viewer_studies

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chest_ct(viewer_studies):
    return viewer_studies["chest-ct"]


def _slice_header(study, number: int) -> pydicom.Dataset:
    instance = study.series.get(modality="CT").instances.order_by("instance_number")[number - 1]
    return pydicom.dcmread(library_root() / instance.file_path, stop_before_pixels=True)


def _lps(ds: pydicom.Dataset, column: float, row: float) -> np.ndarray:
    """PS3.3 C.7.6.2.1.1: image point (column, row), (0, 0) the first pixel's top-left
    corner, to patient mm. ImagePositionPatient is the first pixel's centre."""
    origin = np.array([float(v) for v in ds.ImagePositionPatient])
    cosines = np.array([float(v) for v in ds.ImageOrientationPatient])
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    return (
        origin
        + cosines[:3] * column_spacing * (column - 0.5)
        + cosines[3:] * row_spacing * (row - 0.5)
    )


def _drag(page, points, *, steps: int = 6) -> None:
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=steps)
    page.mouse.up()


def _page_points(page, image_points):
    return [viewer_call(page, f"v.imageToPage({list(p)})") for p in image_points]


def _submit(page, finding: str) -> None:
    page.get_by_label("Your finding").fill(finding)
    page.get_by_role("button", name="Submit the marks").click()
    page.wait_for_load_state("networkidle")


def test_a_box_reaches_the_server_in_image_and_patient_coordinates(
    live_server, people, chest_ct, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["educator"].username)
    ct = chest_ct
    viewer = viewer_open(
        page, f"{live_server.url}/viewer/{ct.study_instance_uid}/?slice=70&answer=1"
    )
    assert viewer.get_attribute("data-state") == "ready", viewer.locator(
        ".viewer-message"
    ).text_content()
    viewer.get_by_role("button", name="Box").click()
    _drag(page, _page_points(page, [(200.5, 150.5), (300.5, 230.5)]))
    viewport_pixels(viewer, screenshot_dir / "1-box.png")
    _submit(page, "Soft-tissue mass")
    page.screenshot(path=screenshot_dir / "2-received.png", full_page=True)
    received = json.loads(page.locator("#received-marks").text_content())

    assert received["finding"] == "Soft-tissue mass"
    (mark,) = received["marks"]
    ds = _slice_header(ct, 70)
    assert mark["kind"] == "box" and mark["slice"] == 70
    assert mark["sopInstanceUID"] == ds.SOPInstanceUID
    # The two corners as dragged, to within the half image pixel a screen pixel spans.
    assert np.allclose(mark["image"], [[200.5, 150.5], [300.5, 230.5]], atol=0.75)
    for (column, row), patient in zip(mark["image"], mark["patient"], strict=True):
        assert np.allclose(patient, _lps(ds, column, row), atol=0.01)
    # By hand for this phantom slice (origin -166, -171.7, -167.5 mm; 0.703125 mm pixels,
    # axial): pixel centre (200, 150) is -166 + 200 * 0.703125 = -25.375 mm (R->L) and
    # -171.7 + 150 * 0.703125 = -66.231 mm (A->P).
    assert np.allclose(mark["patient"][0], [-25.375, -66.231, -167.5], atol=0.6)


def test_an_outline_reaches_the_server_in_image_and_patient_coordinates(
    live_server, people, chest_ct, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["educator"].username)
    ct = chest_ct
    viewer = viewer_open(
        page, f"{live_server.url}/viewer/{ct.study_instance_uid}/?slice=70&answer=1"
    )
    viewer.get_by_role("button", name="Outline").click()
    square = [(150.5, 150.5), (250.5, 150.5), (250.5, 250.5), (150.5, 250.5), (150.5, 151.5)]
    _drag(page, _page_points(page, square), steps=12)
    viewport_pixels(viewer, screenshot_dir / "1-outline.png")
    _submit(page, "Consolidation")
    page.screenshot(path=screenshot_dir / "2-received.png", full_page=True)
    received = json.loads(page.locator("#received-marks").text_content())

    (mark,) = received["marks"]
    ds = _slice_header(ct, 70)
    assert mark["kind"] == "outline" and mark["slice"] == 70 and mark["closed"] is True
    points = np.array(mark["image"])
    assert len(points) >= 8
    # The outline follows the square that was drawn: its extent is the square's.
    assert np.allclose(points.min(axis=0), [150.5, 150.5], atol=1.0)
    assert np.allclose(points.max(axis=0), [250.5, 250.5], atol=1.0)
    for (column, row), patient in zip(mark["image"], mark["patient"], strict=True):
        assert np.allclose(patient, _lps(ds, column, row), atol=0.01)


def test_marks_survive_a_form_returned_with_an_error(
    live_server, people, chest_ct, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["educator"].username)
    ct = chest_ct
    url = f"{live_server.url}/viewer/{ct.study_instance_uid}/?slice=70&answer=1"
    viewer = viewer_open(page, url)
    blank = viewport_pixels(viewer, screenshot_dir / "0-no-marks.png")
    viewer.get_by_role("button", name="Box").click()
    _drag(page, _page_points(page, [(220.5, 180.5), (320.5, 260.5)]))
    viewer.get_by_role("button", name="Point").click()
    page.mouse.click(*_page_points(page, [(120.5, 300.5)])[0])
    page.wait_for_function(
        "() => document.getElementById('answer-marks').value.includes('\"point\"')"
    )
    posted = json.loads(page.locator("#answer-marks").input_value())
    assert [m["kind"] for m in posted["marks"]] == ["point", "box"]

    # Submitted without the finding: the form comes back with the error, marks in place.
    page.get_by_role("button", name="Submit the marks").click()
    page.wait_for_load_state("networkidle")
    viewer = page.locator("[data-viewer]")
    viewer.locator("xpath=self::*[@data-state='ready']").wait_for(timeout=60_000)
    assert "Describe the finding in words" in page.locator(".form-errors").text_content()
    assert page.locator("#received-marks").count() == 0
    kept = viewport_pixels(viewer, screenshot_dir / "1-returned-with-error.png")
    page.screenshot(path=screenshot_dir / "1-page-with-error.png", full_page=True)
    assert np.abs(kept - blank).mean() > 0.2, "the marks were not drawn again"
    again = json.loads(page.locator("#answer-marks").input_value())
    assert again["marks"] == posted["marks"]

    # Corrected and sent: the server receives the same marks.
    _submit(page, "Mass with a satellite nodule")
    received = json.loads(page.locator("#received-marks").text_content())
    assert received["marks"] == posted["marks"]
    page.screenshot(path=screenshot_dir / "2-received.png", full_page=True)


def test_unreadable_marks_are_refused_with_a_message(people, chest_ct, client):
    client.force_login(people["educator"])
    ct = chest_ct
    response = client.post(
        f"/viewer/{ct.study_instance_uid}/?answer=1", {"marks": "{not json", "finding": "x"}
    )
    assert response.status_code == 200
    assert b"The marks were not readable; place them again." in response.content
    assert b"received-marks" not in response.content


def test_marks_handed_back_to_the_viewer_are_escaped(people, chest_ct, client):
    client.force_login(people["educator"])
    hostile = {"marks": [{"kind": "point", "sopInstanceUID": '"><script>alert(1)</script>'}]}
    response = client.post(
        f"/viewer/{chest_ct.study_instance_uid}/?answer=1",
        {"marks": json.dumps(hostile), "finding": ""},
    )
    assert response.status_code == 200
    assert b"Describe the finding in words" in response.content
    assert b"<script>alert(1)" not in response.content
    assert b"data-answer-initial=" in response.content
