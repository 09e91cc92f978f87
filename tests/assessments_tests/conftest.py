"""A chest CT with its organ SEG, built once per session from the cached registry packages."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def chest_ct_build(tmp_path_factory) -> Path:
    from studies.library.sources import DEFAULT_CACHE_DIR, sources_cached
    from tests.library_builds import library_with

    if not sources_cached(cache_dir=DEFAULT_CACHE_DIR):
        pytest.skip("study sources are not cached: run `python -m studies.library fetch`")
    return library_with(tmp_path_factory, ["chest-ct"], name="assessments-library")


@pytest.fixture
def chest_ct(chest_ct_build, settings, db):
    """The chest CT indexed for this test: (study, CT series, SEG series)."""
    from studies.models import Study
    from studies.services import library_index_rebuild

    settings.STUDY_LIBRARY_ROOT = chest_ct_build
    library_index_rebuild(root=chest_ct_build)
    study = Study.objects.get(key="chest-ct")
    ct = study.series.get(modality="CT")
    seg = study.series.get(modality="SEG", series_number=2)
    return study, ct, seg
