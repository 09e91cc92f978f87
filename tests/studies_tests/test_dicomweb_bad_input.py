"""Hostile instances never give a 500 and never stall a worker (issue 13, items 4 and 9):
decompression bombs are refused at STOW from their declared size, and one stored around
that check renders a clear 422 without decoding; a JPEG frame that is no JPEG is refused
at STOW, and answered 422 if stored anyway; sequences nested 150 deep fail that one
instance while the others of the request are stored. The rendering memory of the bomb is
measured in bench/dicom_bomb.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pydicom
import pytest

from studies.models import Instance, Study
from studies.services import instance_facts_read, instance_index, study_counts_refresh
from tests.studies_tests import dicom_hostile
from tests.studies_tests.test_dicomweb_stow import CT_SMALL, _post, _uploaded_files, multipart


@pytest.fixture
def educator_client(client, people, study_library):
    client.force_login(people["educator"])
    return client


def _failures(response) -> list[tuple[int, str]]:
    document = json.loads(response.content)
    return [f["00081197"]["Value"][0] for f in document.get("00081198", {}).get("Value", [])]


def _stored_around_the_checks(root: Path, data: bytes) -> Instance:
    """Put an instance in the library the way a file copied in by hand and re-indexed
    would arrive: no STOW checks at all."""
    ds = pydicom.dcmread(io.BytesIO(data))
    path = root / "uploads" / ds.StudyInstanceUID / ds.SeriesInstanceUID / "hostile.dcm"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    instance = instance_index(facts=instance_facts_read(path=path, root=root), origin="stow")
    study_counts_refresh(study=instance.series.study)
    return instance


def _instance_url(instance: Instance) -> str:
    series = instance.series
    return (
        f"/dicomweb/studies/{series.study.study_instance_uid}/series/"
        f"{series.series_instance_uid}/instances/{instance.sop_instance_uid}"
    )


def test_a_decompression_bomb_is_refused_at_stow_with_its_reason(educator_client, study_library):
    bomb = dicom_hostile.jpeg_ls_bomb()
    assert len(bomb) < 10_000
    studies = Study.objects.count()
    response = _post(educator_client, multipart(bomb, CT_SMALL))
    assert response.status_code == 202, response.content
    assert _failures(response) == [0xA700]  # Out of Resources
    assert "8192 x 8192" in response["Warning"] and "64 MiB per frame" in response["Warning"]
    assert len(_uploaded_files(study_library)) == 1  # only CT_small
    assert Study.objects.count() == studies + 1


def test_the_budget_is_a_setting(educator_client, study_library, settings):
    settings.DICOM_DECODED_FRAME_MAX_BYTES = 16 * 1024  # CT_small's frame is 32 KiB
    response = _post(educator_client, multipart(CT_SMALL))
    assert response.status_code == 409
    assert "32 KiB decoded; this site decodes at most 16 KiB per frame" in response["Warning"]
    assert _uploaded_files(study_library) == []


def test_a_stored_bomb_renders_a_clear_422_without_decoding(educator_client, study_library):
    instance = _stored_around_the_checks(study_library, dicom_hostile.jpeg_ls_bomb())
    url = _instance_url(instance)
    series = instance.series
    for path in (
        f"{url}/rendered",
        f"{url}/frames/1/rendered",
        f"{url}/thumbnail",
        f"/dicomweb/studies/{series.study.study_instance_uid}/series/"
        f"{series.series_instance_uid}/thumbnail",
        f"/dicomweb/studies/{series.study.study_instance_uid}/thumbnail",
    ):
        response = educator_client.get(path, HTTP_ACCEPT="image/png")
        assert response.status_code == 422, (path, response.content)
        assert b"64 MiB per frame" in response.content
    decoded = educator_client.get(
        f"{url}/frames/1",
        HTTP_ACCEPT='multipart/related; type="application/octet-stream"; '
        "transfer-syntax=1.2.840.10008.1.2.1",
    )
    assert decoded.status_code == 422
    whole = educator_client.get(
        url,
        HTTP_ACCEPT='multipart/related; type="application/dicom"; '
        "transfer-syntax=1.2.840.10008.1.2.1",
    )
    assert whole.status_code == 422
    # As stored (no decoding) it is still retrievable: nothing is lost.
    raw = educator_client.get(
        f"{url}/frames/1",
        HTTP_ACCEPT='multipart/related; type="application/octet-stream"; transfer-syntax=*',
    )
    assert raw.status_code == 200


@pytest.mark.parametrize("with_jpeg_header", [False, True])
def test_a_jpeg_baseline_frame_that_is_no_jpeg_is_refused_at_stow(
    educator_client, study_library, with_jpeg_header
):
    hostile = dicom_hostile.jpeg_baseline_not_jpeg(with_jpeg_header=with_jpeg_header)
    response = _post(educator_client, multipart(hostile, CT_SMALL))
    assert response.status_code == 202, response.content
    assert _failures(response) == [0xC000]
    expected = "cannot be decoded" if with_jpeg_header else "does not start with a JPEG SOI"
    assert expected in response["Warning"]
    assert len(_uploaded_files(study_library)) == 1


@pytest.mark.parametrize("with_jpeg_header", [False, True])
def test_a_stored_non_jpeg_renders_a_clear_422(educator_client, study_library, with_jpeg_header):
    hostile = dicom_hostile.jpeg_baseline_not_jpeg(with_jpeg_header=with_jpeg_header)
    instance = _stored_around_the_checks(study_library, hostile)
    url = _instance_url(instance)
    for path in (f"{url}/rendered", f"{url}/thumbnail"):
        response = educator_client.get(path)
        assert response.status_code == 422, (path, response.content)
        assert b"cannot be decoded" in response.content
    decoded = educator_client.get(
        f"{url}/frames/1",
        HTTP_ACCEPT='multipart/related; type="application/octet-stream"; '
        "transfer-syntax=1.2.840.10008.1.2.1",
    )
    assert decoded.status_code in (406, 422)
    assert b"decode" in decoded.content


def test_sequences_nested_150_deep_fail_that_instance_only(educator_client, study_library):
    deep = dicom_hostile.deeply_nested(150)
    response = _post(educator_client, multipart(deep, CT_SMALL))
    assert response.status_code == 202, response.content
    assert _failures(response) == [0xC000]
    assert "nested more than 64 levels" in response["Warning"]
    assert len(_uploaded_files(study_library)) == 1
    # Nesting real data uses (an SR content tree) is stored and de-identified as before.
    shallow = _post(educator_client, multipart(dicom_hostile.deeply_nested(20)))
    assert shallow.status_code == 200, shallow.content


def test_a_syntax_without_a_decoder_is_406_with_its_name_and_served_as_stored(
    educator_client, study_library
):
    instance = _stored_around_the_checks(study_library, dicom_hostile.htj2k_without_a_decoder())
    url = _instance_url(instance)
    for path in (f"{url}/rendered", f"{url}/thumbnail"):
        response = educator_client.get(path)
        assert response.status_code == 406, (path, response.content)
        assert b"High-Throughput JPEG 2000" in response.content
    decoded = educator_client.get(
        f"{url}/frames/1",
        HTTP_ACCEPT='multipart/related; type="application/octet-stream"; '
        "transfer-syntax=1.2.840.10008.1.2.1",
    )
    assert decoded.status_code == 406
    as_stored = educator_client.get(
        f"{url}/frames/1",
        HTTP_ACCEPT='multipart/related; type="application/octet-stream"; transfer-syntax=*',
    )
    assert as_stored.status_code == 200
    assert b"1.2.840.10008.1.2.4.201" in as_stored["Content-Type"].encode()
