"""A study with two image series in Chromium: the series picker shows a thumbnail of each
(rendered by our DICOMweb server, not blank), and choosing one shows that series (other
pixels, other series in the corner). The study reaches the library as an educator would
add it: STOW-RS of pydicom's CT and MR sample slices under one StudyInstanceUID."""

import io

import numpy as np
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from PIL import Image
from pydicom.data import get_testdata_file

from studies.models import Study
from tests.browser.session import log_in
from tests.browser.viewer_support import viewer_open, viewport_pixels
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _two_series_study() -> list[pydicom.Dataset]:
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    mr = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    mr.StudyInstanceUID = ct.StudyInstanceUID
    # The sample says DERIVED\SECONDARY, which ingest rightly quarantines as possibly
    # carrying burned-in text; it is a plain MR slice.
    mr.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    ct.SeriesNumber = 1
    mr.SeriesNumber = 2
    return [ct, mr]


@pytest.fixture
def two_series_study(live_server, people, settings, tmp_path) -> Study:
    settings.STUDY_LIBRARY_ROOT = tmp_path / "library"
    settings.STUDY_LIBRARY_ROOT.mkdir()
    session = requests.Session()
    session.auth = (people["educator"].username, TEST_PASSWORD)
    client = DICOMwebClient(url=f"{live_server.url}/dicomweb", session=session)
    client.store_instances(datasets=_two_series_study())
    (study,) = Study.objects.all()
    assert study.series.count() == 2 and not study.is_quarantined
    return study


def test_series_picker_shows_thumbnails_and_switches_series(
    live_server, people, two_series_study, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["educator"].username)
    viewer = viewer_open(page, f"{live_server.url}/viewer/{two_series_study.study_instance_uid}/")
    assert viewer.get_attribute("data-state") == "ready", viewer.locator(
        ".viewer-message"
    ).text_content()
    buttons = viewer.locator(".viewer-series button")
    assert buttons.count() == 2
    assert buttons.nth(0).get_attribute("aria-pressed") == "true"
    # De-identification on ingest removes SeriesDescription (PS3.15 Annex E, action X):
    # the buttons name modality and series number.
    assert buttons.nth(0).text_content().strip() == "CT 1"
    assert buttons.nth(1).text_content().strip() == "MR 2"
    page.screenshot(path=screenshot_dir / "0-page.png", full_page=True)

    for i in range(2):
        thumbnail = buttons.nth(i).locator("img")
        thumbnail.scroll_into_view_if_needed()
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle()
        )
        png = thumbnail.screenshot(path=screenshot_dir / f"thumbnail-{i + 1}.png")
        pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)
        assert pixels.std() > 10, f"thumbnail {i + 1} is blank"

    assert viewer.locator("[data-corner=tl]").text_content() == "CT 1"
    ct_pixels = viewport_pixels(viewer, screenshot_dir / "1-ct.png")
    assert ct_pixels.std() > 10

    buttons.nth(1).click()
    mr_series = two_series_study.series.get(modality="MR").series_instance_uid
    viewer.locator(f"xpath=self::*[@data-series='{mr_series}']").wait_for()
    page.wait_for_function(
        "(corner) => corner.textContent === 'MR 2'",
        arg=viewer.locator("[data-corner=tl]").element_handle(),
    )
    mr_pixels = viewport_pixels(viewer, screenshot_dir / "2-mr.png")
    assert mr_pixels.std() > 10, "the MR is blank"
    assert np.abs(mr_pixels - ct_pixels).mean() > 5, "choosing the MR did not change the image"
    assert buttons.nth(1).get_attribute("aria-pressed") == "true"
    assert buttons.nth(0).get_attribute("aria-pressed") == "false"
    # MR has no CT presets: the window drop-down offers the image's own window only.
    assert viewer.locator(".viewer-preset option").all_text_contents() == ["Auto (from the image)"]
    page.screenshot(path=screenshot_dir / "3-page-mr.png", full_page=True)
