"""Shared steps of the viewer's browser tests: a small real library, a signed-in page, and
pixel checks on screenshots of the viewer's image area."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

VIEWER_STUDY_KEYS = ["chest-ct", "chest-cr"]


@pytest.fixture(scope="session")
def viewer_library_build(tmp_path_factory) -> Path:
    """The 133-slice chest CT (+ SEG) and the MONOCHROME1 chest CR, built once per session
    from the cached registry packages."""
    from studies.library.pipeline import library_build
    from studies.library.sources import DEFAULT_CACHE_DIR, sources_cached

    if not sources_cached(cache_dir=DEFAULT_CACHE_DIR):
        pytest.skip("study sources are not cached: run `python -m studies.library fetch`")
    out_dir = tmp_path_factory.mktemp("viewer-library")
    library_build(
        out_dir=out_dir,
        cache_dir=DEFAULT_CACHE_DIR,
        only=VIEWER_STUDY_KEYS,
        progress=lambda _: None,
    )
    return out_dir


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


def viewport_pixels(viewer, path: Path) -> np.ndarray:
    """A screenshot of the viewer's image area (saved to path) as a grey-level array."""
    # Let the renderer finish the frame that the last action asked for.
    viewer.page.wait_for_timeout(300)
    png = viewer.locator(".viewer-viewport").screenshot(path=path)
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)


def slice_wait(viewer, number: int) -> None:
    viewer.locator(f"xpath=self::*[@data-slice='{number}']").wait_for(timeout=30_000)
