"""STOW-RS under fuzzed input (issue 13, item 9): valid instances mutated (truncated, bytes
flipped, sequences deepened, element lengths and the transfer syntax lied about) are
stored or refused one by one, never with a server error, and never half-stored: after
every request the rows and the files describe each other exactly.

Deterministic: a fixed seed and a fixed number of examples (`EXAMPLES`)."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
)

from studies.models import Instance, Series, Study
from tests.studies_tests import dicom_hostile
from tests.studies_tests.test_dicomweb_stow import _post, multipart

SEED = 1313
REQUESTS = 8
PER_REQUEST = 6
EXAMPLES = REQUESTS * PER_REQUEST
SOURCES = [Path(get_testdata_file(name)).read_bytes() for name in ("CT_small.dcm", "MR_small.dcm")]
LYING_SYNTAXES = [
    ImplicitVRLittleEndian,
    ExplicitVRBigEndian,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    JPEG2000Lossless,
    RLELossless,
]
# VRs whose explicit length field is 4 bytes, after 2 reserved ones (PS3.5 §7.1.2).
LONG_LENGTH_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(1, len(data))]


def _flip(rng: random.Random, data: bytes) -> bytes:
    mutated = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        mutated[rng.randrange(132, len(mutated))] ^= 1 << rng.randrange(8)
    return bytes(mutated)


def _lie_about_a_length(rng: random.Random, data: bytes) -> bytes:
    """Rewrite one element's length field (explicit VR little endian) to a random value."""
    ds = pydicom.dcmread(io.BytesIO(data), defer_size=0)
    raw = [ds.get_item(tag, keep_deferred=True) for tag in list(ds.keys())]
    element = rng.choice([r for r in raw if getattr(r, "value_tell", None)])
    wide = element.VR in LONG_LENGTH_VRS
    at = element.value_tell - (4 if wide else 2)
    value = rng.choice([0, 1, 7, 0xFFFF, 0xFFFFFFFF, rng.randrange(2**16), len(data) * 3])
    size = 4 if wide else 2
    mutated = bytearray(data)
    mutated[at : at + size] = (value % (1 << (8 * size))).to_bytes(size, "little")
    return bytes(mutated)


def _lie_about_the_syntax(rng: random.Random, data: bytes) -> bytes:
    """The same data set bytes behind a File Meta Information naming another syntax."""
    ds = pydicom.dcmread(io.BytesIO(data))
    meta_end = 132 + 12 + int(ds.file_meta.FileMetaInformationGroupLength)
    ds.file_meta.TransferSyntaxUID = rng.choice(LYING_SYNTAXES)
    buffer = pydicom.filebase.DicomBytesIO()
    write_file_meta_info(buffer, ds.file_meta, enforce_standard=True)
    return data[:132] + buffer.getvalue() + data[meta_end:]


def _deepen(rng: random.Random, data: bytes) -> bytes:
    return dicom_hostile.deeply_nested(rng.choice([65, 90, 150]))


MUTATIONS = [_truncate, _flip, _lie_about_a_length, _lie_about_the_syntax, _deepen]


def _mutant(rng: random.Random) -> bytes:
    data = rng.choice(SOURCES)
    for mutation in rng.sample(MUTATIONS, rng.randint(1, 2)):
        data = mutation(rng, data)
    return data


def _rows_and_files_agree(root: Path) -> None:
    uploads = root / "uploads"
    files = {p.resolve() for p in uploads.rglob("*.dcm")} if uploads.exists() else set()
    assert not list(uploads.rglob(".incoming-*")) if uploads.exists() else True
    stored = Instance.objects.filter(file_path__startswith="uploads/")
    described = set()
    for instance in stored:
        path = (root / instance.file_path).resolve()
        assert path in files, f"row without its file: {instance.file_path}"
        header = pydicom.dcmread(path, stop_before_pixels=True)
        assert header.SOPInstanceUID == instance.sop_instance_uid
        assert path.stat().st_size == instance.file_size
        described.add(path)
    assert files == described, f"files without rows: {sorted(files - described)}"
    assert not Series.objects.filter(instances__isnull=True).exists()
    for study in Study.objects.filter(origin="stow"):
        assert study.number_of_instances == Instance.objects.filter(series__study=study).count()
        assert study.number_of_series == study.series.count()


@pytest.fixture
def educator_client(client, people, study_library):
    client.force_login(people["educator"])
    return client


def test_fuzzed_instances_are_stored_or_refused_one_by_one(educator_client, study_library):
    rng = random.Random(SEED)
    outcomes = {"stored": 0, "failed": 0}
    for _ in range(REQUESTS):
        parts = [_mutant(rng) for _ in range(PER_REQUEST)]
        response = _post(educator_client, multipart(*parts))
        assert response.status_code in (200, 202, 409), response.content[:500]
        document = json.loads(response.content)
        stored = document.get("00081199", {}).get("Value", [])
        failed = document.get("00081198", {}).get("Value", [])
        assert len(stored) + len(failed) == PER_REQUEST
        outcomes["stored"] += len(stored)
        outcomes["failed"] += len(failed)
        for item in stored:
            uid = item["00081155"]["Value"][0]
            assert Instance.objects.filter(sop_instance_uid=uid).exists()
        _rows_and_files_agree(study_library)
    # The mutations are strong enough to be refused most of the time, and some mutants
    # (a flipped bit in a text value) are still valid DICOM and stored.
    assert outcomes["failed"] > EXAMPLES // 2 and outcomes["stored"] > 0, outcomes
