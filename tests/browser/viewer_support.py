"""Shared steps of the viewer's browser tests: a small real library, a signed-in page, and
pixel checks on screenshots of the viewer's image area."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.urls import include
from django.urls import path as url_path
from PIL import Image

VIEWER_STUDY_KEYS = ["chest-ct", "chest-cr"]


@pytest.fixture(scope="session")
def viewer_library_build(tmp_path_factory) -> Path:
    """The 133-slice chest CT (+ SEG) and the MONOCHROME1 chest CR, built once per session
    from the cached registry packages."""
    from studies.library.sources import DEFAULT_CACHE_DIR, sources_cached
    from tests.library_builds import library_with

    if not sources_cached(cache_dir=DEFAULT_CACHE_DIR):
        pytest.skip("study sources are not cached: run `python -m studies.library fetch`")
    return library_with(tmp_path_factory, VIEWER_STUDY_KEYS, name="viewer-library")


@pytest.fixture
def viewer_studies(viewer_library_build, settings, transactional_db) -> dict:
    """The library indexed for this test; studies by key."""
    from studies.models import Study
    from studies.services import library_index_rebuild

    settings.STUDY_LIBRARY_ROOT = viewer_library_build
    library_index_rebuild(root=viewer_library_build)
    return {study.key: study for study in Study.objects.all()}


def viewer_open(page, url: str, *, index: int = 0):
    """Open a page and wait until its viewer has drawn its first image."""
    page.goto(url)
    viewer = page.locator("[data-viewer]").nth(index)
    viewer.locator("xpath=self::*[@data-state='ready' or @data-state='error']").wait_for(
        timeout=60_000
    )
    return viewer


def frames_painted(page, frames: int = 2) -> None:
    """Wait until the browser has painted `frames` more frames. Cornerstone draws what the
    last action asked for in the next animation frame (and the page's overlays in the same
    callback), so after two the screen shows it, however slow the machine is."""
    page.evaluate(
        "(frames) => new Promise((done) => {"
        " const step = (left) => left ? requestAnimationFrame(() => step(left - 1)) : done();"
        " step(frames); })",
        frames,
    )


def viewport_pixels(viewer, path: Path) -> np.ndarray:
    """A screenshot of the viewer's image area (saved to path) as a grey-level array."""
    frames_painted(viewer.page)
    png = viewer.locator(".viewer-viewport").screenshot(path=path)
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)


def slice_wait(viewer, number: int) -> None:
    viewer.locator(f"xpath=self::*[@data-slice='{number}']").wait_for(timeout=30_000)


def viewport_rgb(viewer, path: Path) -> np.ndarray:
    """A screenshot of the viewer's image area (saved to path) as an RGB array (int16, so
    differences do not wrap)."""
    frames_painted(viewer.page)
    png = viewer.locator(".viewer-viewport").screenshot(path=path)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def viewer_call(page, expression: str, *, index: int = 0):
    """Evaluate `expression` with `v` bound to the index-th viewer's controller."""
    return page.evaluate(
        "([index, body]) => { const v = document.querySelectorAll('[data-viewer]')[index]"
        ".artefactViewer; return eval(body); }",
        [index, expression],
    )


def image_point_on_screen(page, point, *, index: int = 0) -> tuple[float, float]:
    """Where a person would click to hit image `point` (column, row) of the index-th viewer:
    the page is first scrolled so the point sits mid-screen, as a person scrolls to what
    they mean to click (a mouse click outside the window reaches nothing)."""
    _x, y = viewer_call(page, f"v.imageToPage({list(point)})", index=index)
    page.evaluate("(y) => window.scrollBy(0, y - window.innerHeight / 2)", y)
    page.wait_for_function("() => true")  # a frame for the scroll to land
    return tuple(viewer_call(page, f"v.imageToPage({list(point)})", index=index))


# --- A test-only page for lab-output layers (image_urls + heatmap/labelmap overlays) -------
#
# Registered only in tests: settings.ROOT_URLCONF = "tests.browser.viewer_support" puts these
# two URLs in front of the project's own. The page is the bare include, as a lab page would
# embed it, without the site's navigation. The test fills LAYER_PAGE and LAYER_FILES; the
# files are served to signed-in users only, like the lab's permission-checked outputs.

LAYER_FILES: dict[str, tuple[Path, str]] = {}
LAYER_PAGE: dict = {"viewers": []}

_LAYER_PAGE_TEMPLATE = """{% load static %}<!doctype html><html lang="en"><head>
<meta charset="utf-8"><title>Layers</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="{% static 'dist/artefact.css' %}"></head><body><main>
<div class="viewer-pair">{% for v in viewers %}
{% include "viewer/viewer.html" with image_urls=v.image_urls overlays=v.overlays link=v.link \
preset=v.preset caption=v.caption study_uid="" %}
{% endfor %}</div></main></body></html>"""


def _layer_page(request):
    from django.template import engines

    template = engines["django"].from_string(_LAYER_PAGE_TEMPLATE)
    return HttpResponse(template.render({"viewers": LAYER_PAGE["viewers"]}, request))


def _layer_file(request, name: str):
    if name not in LAYER_FILES:
        raise Http404("No such file.")
    path, content_type = LAYER_FILES[name]
    return FileResponse(path.open("rb"), content_type=content_type)


def __getattr__(name: str):
    # urlpatterns is built when Django first resolves a URL with this URLconf, not at import:
    # importing the project's URLconf during test collection would need every app ready.
    if name == "urlpatterns":
        return [
            url_path("viewer-test/layers/", login_required(_layer_page)),
            url_path("viewer-test/files/<str:name>", login_required(_layer_file)),
            url_path("", include("config.urls")),
        ]
    raise AttributeError(name)


def phantom_slice_write(
    *,
    template: Path,
    out: Path,
    squares: list[tuple[int, int, int, int, int]],
    background_hu: int = 40,
) -> None:
    """A CT slice with the template's geometry, rescale and spacing, whose pixels are a flat
    background with squares (row0, col0, row1, col1 exclusive, HU): a phantom whose every
    feature's position is known. New SOP and Series Instance UIDs, DERIVED like a lab's
    perturbed slice."""
    import pydicom
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(template)
    slope = float(getattr(ds, "RescaleSlope", 1))
    intercept = float(getattr(ds, "RescaleIntercept", 0))
    hu = np.full((ds.Rows, ds.Columns), background_hu, dtype=np.float64)
    for row0, col0, row1, col1, value in squares:
        hu[row0:row1, col0:col1] = value
    stored = np.round((hu - intercept) / slope)
    dtype = np.int16 if ds.PixelRepresentation else np.uint16
    ds.PixelData = stored.astype(dtype).tobytes()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    ds.SeriesDescription = "Phantom"
    for keyword in ("WindowCenter", "WindowWidth"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.save_as(out, enforce_file_format=True)


def png_write(out: Path, values: np.ndarray) -> None:
    Image.fromarray(values.astype(np.uint8), mode="L").save(out)
