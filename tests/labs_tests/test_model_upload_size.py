"""A model upload that expands past the limit is refused from the sizes its zip directory
declares, before anything is unpacked (issue 13, item 9): a 4 MB zip expanding to 4 GiB
must not cost seconds of CPU in the web request."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labs.models import UploadedModel

FORM = {
    "title": "Bomb",
    "modality": "CT",
    "input_rows": 64,
    "input_columns": 64,
    "normalisation": "minmax",
    "output": "classification",
    "labels": "a, b",
}


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _declaring(data: bytes, *, uncompressed: int) -> bytes:
    """The archive with every central-directory entry declaring `uncompressed` bytes (the
    size field at offset 24 of a central file header, APPNOTE 4.3.12)."""
    mutated = bytearray(data)
    start = 0
    while (start := mutated.find(b"PK\x01\x02", start)) != -1:
        mutated[start + 24 : start + 28] = struct.pack("<I", uncompressed)
        start += 4
    return bytes(mutated)


def _post(client, archive: bytes):
    upload = SimpleUploadedFile("model.pt", archive, content_type="application/zip")
    return client.post(reverse("labs:uploaded_model_create"), {**FORM, "archive": upload})


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_a_zip_declaring_4_gib_is_refused_before_anything_is_unpacked(client, people, media):
    # 1024 entries of 4 KiB zeros, each declaring (2^32 - 1) / 1024 bytes: ~4 GiB in all.
    entries = {f"model/data/{n}": b"\0" * 4096 for n in range(1024)}
    archive = _declaring(_zip(entries), uncompressed=(2**32 - 1) // 1024)
    client.force_login(people["educator"])
    response = _post(client, archive)
    assert response.status_code == 200
    page = response.content.decode()
    assert "This archive expands to 4095 MB" in page and "Nothing was unpacked" in page
    assert not UploadedModel.objects.exists()


def test_a_real_archive_expanding_past_the_setting_is_refused(client, people, media, settings):
    settings.ZOO_UPLOAD_EXPANDED_MAX_BYTES = 1024 * 1024
    archive = _zip({"model/code/model.py": b"\0" * (3 * 1024 * 1024)})
    assert len(archive) < 10_000  # 3 MiB of zeros deflate to a few kilobytes
    client.force_login(people["educator"])
    response = _post(client, archive)
    assert "This archive expands to 3 MB; models up to 1 MB" in response.content.decode()
    assert not UploadedModel.objects.exists()
