"""Conformance on files we never built: every public DICOM test file of pydicom, pydicom-data
(without the non-commercial 693_* files) and nibabel goes through our STOW-RS, and what we
store is compared with Orthanc holding the same stored file (issue 18, item 5).

Per file: STOW never answers 5xx (a file we cannot take is a per-instance failure with a
reason); a stored instance has the same instance-level QIDO attributes and the same metadata
as Orthanc's, its frames come back byte-identical as stored, decompressed frames and
rendered images are served (or refused with 406/422 and a reason), never a 500, and
wherever Orthanc renders a frame we render one that looks the same.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
import requests
from PIL import Image

from studies.library.sources import DEFAULT_CACHE_DIR
from studies.models import Instance
from tests.studies_tests.conftest import orthanc_start
from tests.studies_tests.test_dicomweb_stow import _post, multipart

pytestmark = pytest.mark.django_db


def _corpus() -> list[Path]:
    pydicom_files = Path(pydicom.__file__).parent / "data" / "test_files"
    nibabel_root = Path(nibabel.__file__).parent
    found = [p for p in sorted(pydicom_files.rglob("*")) if p.is_file()]
    found += sorted(DEFAULT_CACHE_DIR.glob("pydicom-data-*/data_store/data/*"))
    found += sorted(nibabel_root.rglob("*.dcm"))
    # 693_*: CQ500 head CT, licensed for non-commercial use only.
    return [p for p in found if p.is_file() and not p.name.startswith("693_")]


CORPUS = _corpus()


def _corpus_id(path: Path) -> str:
    for marker in ("test_files", "data_store", "nibabel"):
        if marker in path.parts:
            return f"{marker}/{'/'.join(path.parts[path.parts.index(marker) + 1 :])}"
    return path.name


def test_the_corpus_is_there():
    """The pydicom-data package comes with `python -m studies.library fetch` (make test
    runs it); without it the corpus would silently shrink to pydicom's own files."""
    sources = {_corpus_id(p).split("/")[0] for p in CORPUS}
    assert sources == {"test_files", "data_store", "nibabel"}
    assert len(CORPUS) > 140


@pytest.fixture(scope="module")
def corpus_orthanc(tmp_path_factory):
    server = orthanc_start(work_dir=tmp_path_factory.mktemp("orthanc-corpus"))
    try:
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)


@pytest.fixture
def empty_library(tmp_path, settings) -> Path:
    """A library root of the test's own holding nothing but what the test stores."""
    settings.STUDY_LIBRARY_ROOT = tmp_path / "library"
    settings.STUDY_LIBRARY_ROOT.mkdir()
    return settings.STUDY_LIBRARY_ROOT


@pytest.fixture
def educator(client, people, empty_library):
    client.force_login(people["educator"])
    return client


def _stored(response) -> list[str]:
    if response.status_code != 200:
        return []
    document = json.loads(response.content)
    return [item["00081155"]["Value"][0] for item in document.get("00081199", {}).get("Value", [])]


# Attributes a server fills from its own state, not from the file.
_SERVER_ATTRIBUTES = {"00081190", "00080056", "00080005"}


# Orthanc copies these from the file into instance rows; our index does not keep them.
# Series Description: Orthanc returns it empty when the file has it empty, we leave it out.
# Performed Procedure Step Start Date/Time: Orthanc's series main tags, not in our index.
_NOT_INDEXED = {"00080201", "0008103E", "00400244", "00400245"}


def _search_attributes(document: dict) -> dict:
    return {tag: value for tag, value in document.items() if tag not in _SERVER_ATTRIBUTES}


def _bulk_tags(document: dict) -> set[str]:
    return {tag for tag, a in document.items() if "BulkDataURI" in a or "InlineBinary" in a}


def _comparable(document: dict, *, skip: set[str]) -> dict:
    """Metadata minus what servers may choose differently: bulk data (what goes inline and
    what by URI, e.g. Orthanc sends palette descriptors, US or SS, as binary)."""
    kept = {}
    for tag, attribute in document.items():
        if tag in skip or "BulkDataURI" in attribute or "InlineBinary" in attribute:
            continue
        if attribute.get("vr") == "SQ":
            attribute = {
                "vr": "SQ",
                "Value": [_comparable(item, skip=set()) for item in attribute.get("Value", [])],
            }
        kept[tag] = attribute
    return kept


# Where Orthanc 1.10 is the one that departs from PS3.18, per file, with the reason. Ours
# must still answer, with every attribute Orthanc has.
ORTHANC_DEPARTS = {
    "J2K_pixelrep_mismatch.dcm": "ISO 2022 IR 13 text is decoded before it is split into "
    "values, so the 0x5C delimiter becomes a Yen sign (PS3.5 §6.1.2.5.3 splits first)",
    "gdcm-US-ALOKA-16.dcm": "the palette colour LUT descriptors (VR US or SS) are left out "
    "of the metadata",
    "JPGLosslessP14SV1_1s_1f_8b.dcm": "an empty sequence item is dropped (PS3.18 §F.2.4 "
    "keeps it as an empty object)",
}


class _Peer:
    """Requests to Orthanc, each with a time budget (a hung peer fails the test, not CI)."""

    def __getattr__(self, method):
        return lambda url, **kwargs: requests.request(method, url, timeout=60, **kwargs)


_peer = _Peer()


def _ours_get(client, url: str, accept: str):
    return client.get(url, HTTP_ACCEPT=accept)


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


@pytest.mark.parametrize("path", CORPUS, ids=_corpus_id)
def test_a_public_test_file_is_stored_and_served_like_orthanc(
    educator, empty_library, corpus_orthanc, path, request
):
    response = _post(educator, multipart(path.read_bytes()))
    assert response.status_code < 500, response.content[:500]
    stored = _stored(response)
    if not stored:
        # Refused: with a reason the uploader can read, and nothing half-stored.
        assert response.status_code in (200, 400, 409, 413, 415, 422), response.status_code
        assert not Instance.objects.exists()
        return
    instance = Instance.objects.select_related("series__study").get(sop_instance_uid=stored[0])
    study_uid = instance.series.study.study_instance_uid
    series_uid = instance.series.series_instance_uid
    stored_file = empty_library / instance.file_path
    peer = _peer.post(f"{corpus_orthanc.url}/instances", data=stored_file.read_bytes())
    if not peer.ok:
        pytest.skip(f"Orthanc does not store it either ({peer.status_code})")
    # Several public files share UIDs (one image in several encodings): Orthanc keeps the
    # first it stored, so each test removes its own, as the test database does.
    request.addfinalizer(
        lambda: _peer.delete(f"{corpus_orthanc.url}/instances/{peer.json()['ID']}")
    )

    ours_root = f"/dicomweb/studies/{study_uid}/series/{series_uid}"
    theirs_root = f"{corpus_orthanc.dicomweb_url}/studies/{study_uid}/series/{series_uid}"
    instance_path = f"/instances/{instance.sop_instance_uid}"

    # Instance-level search: the attributes Orthanc returns, with the same values.
    query = f"/instances?SOPInstanceUID={instance.sop_instance_uid}"
    mine = _ours_get(educator, f"{ours_root}{query}", "application/dicom+json")
    theirs = _peer.get(f"{theirs_root}{query}", headers={"Accept": "application/dicom+json"})
    assert mine.status_code == 200 and theirs.ok
    mine, theirs = (
        _search_attributes(json.loads(_body(mine))[0]),
        _search_attributes(theirs.json()[0]),
    )
    assert set(theirs) - set(mine) <= _NOT_INDEXED
    # Orthanc leaves out what the file does not have; the index cannot tell absent from
    # empty, so ours may carry those as empty attributes, never with a value.
    assert all("Value" not in mine[tag] for tag in set(mine) - set(theirs))
    assert {tag: mine[tag] for tag in mine if tag in theirs} == {
        tag: theirs[tag] for tag in theirs if tag in mine
    }

    # Metadata: every attribute of the file, in the JSON model as Orthanc writes it.
    mine = _ours_get(educator, f"{ours_root}{instance_path}/metadata", "application/dicom+json")
    theirs = _peer.get(
        f"{theirs_root}{instance_path}/metadata", headers={"Accept": "application/dicom+json"}
    )
    assert mine.status_code == 200 and theirs.ok
    mine, theirs = json.loads(_body(mine))[0], theirs.json()[0]
    if path.name in ORTHANC_DEPARTS:
        assert set(theirs) <= set(mine)
    else:
        skip = _bulk_tags(mine) | _bulk_tags(theirs)
        assert _comparable(mine, skip=skip) == _comparable(theirs, skip=skip)

    if not instance.number_of_frames or instance.rows is None:
        return
    # Frames as stored: byte-identical with Orthanc's.
    any_syntax = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
    mine = _ours_get(educator, f"{ours_root}{instance_path}/frames/1", any_syntax)
    theirs = _peer.get(f"{theirs_root}{instance_path}/frames/1", headers={"Accept": any_syntax})
    assert mine.status_code == 200, _body(mine)[:300]
    if theirs.ok:
        assert _multipart_parts(mine) == _multipart_parts(theirs)
    # Decompressed: served, or refused with 406 and the reason; never a 500.
    native = 'multipart/related; type="application/octet-stream"'
    mine = _ours_get(educator, f"{ours_root}{instance_path}/frames/1", native)
    assert mine.status_code in (200, 406), _body(mine)[:300]
    if mine.status_code == 406:
        assert _body(mine).strip()
    # Rendered: always an image or a clear refusal. Compared with Orthanc's picture where
    # both choose the same window: Orthanc 1.10's DICOMweb plugin renders every image over
    # its pixel range and ignores the instance's VOI window, which PS3.18 §8.3.5.1.3 asks
    # a server to apply (and we do); palette and LUT images it converts its own way.
    mine = _ours_get(educator, f"{ours_root}{instance_path}/rendered", "image/png")
    assert mine.status_code in (200, 406, 422), _body(mine)[:300]
    if mine.status_code != 200 or not _windowless_greyscale(stored_file):
        return
    theirs = _peer.get(f"{theirs_root}{instance_path}/rendered", headers={"Accept": "image/png"})
    if theirs.ok and theirs.headers.get("Content-Type", "").startswith("image/"):
        _assert_pictures_agree(_body(mine), theirs.content)


def _windowless_greyscale(path: Path) -> bool:
    header = pydicom.dcmread(path, stop_before_pixels=True)
    return (
        str(header.get("PhotometricInterpretation", "")).startswith("MONOCHROME")
        and "WindowCenter" not in header
        and "VOILUTSequence" not in header
        and "ModalityLUTSequence" not in header
    )


def _multipart_parts(response) -> list[bytes]:
    if isinstance(response, requests.Response):
        content_type = response.headers["Content-Type"]
    else:
        content_type = response["Content-Type"]
    body = response.content if isinstance(response, requests.Response) else _body(response)
    boundary = content_type.split("boundary=")[1].split(";")[0].strip('"')
    parts = body.split(f"--{boundary}".encode())[1:-1]
    return [part.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n") for part in parts]


def _assert_pictures_agree(ours: bytes, theirs: bytes) -> None:
    mine, peer = Image.open(io.BytesIO(ours)), Image.open(io.BytesIO(theirs))
    assert mine.size == peer.size
    difference = np.abs(np.asarray(mine.convert("L"), float) - np.asarray(peer.convert("L"), float))
    assert difference.mean() < 12, difference.mean()
