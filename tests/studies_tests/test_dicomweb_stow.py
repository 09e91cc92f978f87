"""STOW-RS (PS3.18 §10.5): validated, de-identified on ingest, stored whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from studies.models import Instance, Study, StudyOrigin

STOW = "/dicomweb/studies"
BOUNDARY = "artefact-test-boundary"
CONTENT_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'


def multipart(*bodies: bytes, kinds: list[str] | None = None, close: bool = True) -> bytes:
    out = b""
    for index, body in enumerate(bodies):
        kind = kinds[index] if kinds else "application/dicom"
        out += f"--{BOUNDARY}\r\nContent-Type: {kind}\r\n\r\n".encode() + body + b"\r\n"
    return out + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


def _post(client, body: bytes, *, content_type: str = CONTENT_TYPE, url: str = STOW):
    return client.post(
        url, data=body, content_type=content_type, HTTP_ACCEPT="application/dicom+json"
    )


def _uploaded_files(root: Path) -> list[Path]:
    return sorted((root / "uploads").rglob("*.dcm")) if (root / "uploads").exists() else []


CT_SMALL = Path(get_testdata_file("CT_small.dcm")).read_bytes()
MR_SMALL = Path(get_testdata_file("MR_small.dcm")).read_bytes()


@pytest.fixture
def educator_client(client, people, study_library):
    client.force_login(people["educator"])
    return client


def test_stored_instances_are_deidentified_indexed_and_reported(educator_client, study_library):
    original = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    response = _post(educator_client, multipart(CT_SMALL, MR_SMALL))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/dicom+json"
    document = json.loads(response.content)
    referenced = document["00081199"]["Value"]
    assert len(referenced) == 2 and "00081198" not in document
    stored_uid = referenced[0]["00081155"]["Value"][0]
    assert stored_uid != original.SOPInstanceUID and stored_uid.startswith("2.25.")
    instance = Instance.objects.get(sop_instance_uid=stored_uid)
    study = instance.series.study
    assert study.origin == StudyOrigin.STOW and study.uploaded_by.username == "edda"
    ds = pydicom.dcmread(study_library / instance.file_path)
    assert ds.PatientIdentityRemoved == "YES"
    assert str(ds.PatientName) != str(original.PatientName)
    assert ds.StudyInstanceUID != original.StudyInstanceUID
    assert ds.StudyDate != original.StudyDate
    assert study.deidentification_report["removed"] or study.deidentification_report["emptied"]
    # The same upload again is idempotent: the same de-identified UIDs, no new rows.
    count = Instance.objects.count()
    again = _post(educator_client, multipart(CT_SMALL))
    assert again.status_code == 200
    assert Instance.objects.count() == count
    assert len(_uploaded_files(study_library)) == 2
    # And it is retrievable at once.
    retrieve = referenced[0]["00081190"]["Value"][0].split("testserver")[1]
    assert educator_client.get(f"{retrieve}/metadata").status_code == 200


def test_partial_failure_is_202_and_each_failure_has_a_reason(educator_client, study_library):
    response = _post(educator_client, multipart(CT_SMALL, b"this is not DICOM at all"))
    assert response.status_code == 202
    document = json.loads(response.content)
    assert len(document["00081199"]["Value"]) == 1
    (failed,) = document["00081198"]["Value"]
    assert failed["00081197"]["Value"] == [0xC000]
    assert "Part 10" in response["Warning"]


def test_truncated_and_non_dicom_instances_fail_with_409_and_store_nothing(
    educator_client, study_library
):
    studies_before = Study.objects.count()
    truncated_pixels = CT_SMALL[:-5000]
    truncated_header = CT_SMALL[:400]
    response = _post(educator_client, multipart(truncated_pixels, truncated_header, b"garbage"))
    assert response.status_code == 409, response.content
    reasons = [f["00081197"]["Value"][0] for f in json.loads(response.content)["00081198"]["Value"]]
    assert reasons == [0xC000, 0xC000, 0xC000]
    assert "truncated" in response["Warning"]
    assert Study.objects.count() == studies_before
    assert _uploaded_files(study_library) == []


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/dicom", CT_SMALL, 415),
        ("application/json", b"{}", 415),
        ('multipart/related; type="application/dicom+json"; boundary=x', b"--x--", 415),
        ('multipart/related; type="application/dicom"', multipart(CT_SMALL), 400),
        (CONTENT_TYPE, multipart(CT_SMALL, close=False)[:-2], 400),
        (CONTENT_TYPE, b"no boundary anywhere in here", 400),
        # The test client sends no Content-Type with an empty body.
        (CONTENT_TYPE, b"", 415),
    ],
)
def test_malformed_requests_are_refused_whole(
    educator_client, study_library, content_type, body, status
):
    response = _post(educator_client, body, content_type=content_type)
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("text/plain") and response.content
    assert _uploaded_files(study_library) == []
    assert not Study.objects.filter(origin=StudyOrigin.STOW).exists()


def test_oversize_uploads_are_refused(educator_client, study_library, settings):
    settings.STUDY_UPLOAD_MAX_BYTES = 10_000
    response = _post(educator_client, multipart(CT_SMALL))
    assert response.status_code == 413
    assert b"limit" in response.content
    assert _uploaded_files(study_library) == []


def test_posting_to_another_study_is_refused_per_instance(educator_client, study_library):
    other = Study.objects.get(key="chest-ct").study_instance_uid
    response = _post(educator_client, multipart(CT_SMALL), url=f"{STOW}/{other}")
    assert response.status_code == 409
    failed = json.loads(response.content)["00081198"]["Value"][0]
    assert failed["00081197"]["Value"] == [0xA900]
    original_study = str(pydicom.dcmread(get_testdata_file("CT_small.dcm")).StudyInstanceUID)
    assert (
        _post(educator_client, multipart(CT_SMALL), url=f"{STOW}/{original_study}").status_code
        == 200
    )


def test_burned_in_annotation_is_stored_but_quarantined(educator_client, study_library, people):
    ultrasound = next((study_library / "us-lymph-node").rglob("*.dcm")).read_bytes()
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.BurnedInAnnotation = "YES"
    from io import BytesIO

    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    response = _post(educator_client, multipart(buffer.getvalue()))
    assert response.status_code == 200
    uid = json.loads(response.content)["00081199"]["Value"][0]["00081155"]["Value"][0]
    study = Instance.objects.get(sop_instance_uid=uid).series.study
    assert study.is_quarantined
    assert ultrasound  # the library's ultrasound is quarantined too (test_dicomweb_index)


def test_residents_may_not_store_and_only_admins_skip_deidentification(
    client, people, study_library
):
    client.force_login(people["resident"])
    assert _post(client, multipart(CT_SMALL)).status_code == 403
    client.force_login(people["educator"])
    assert (
        _post(client, multipart(CT_SMALL), url=f"{STOW}?already-deidentified=true").status_code
        == 403
    )
    client.force_login(people["admin"])
    response = _post(client, multipart(CT_SMALL), url=f"{STOW}?already-deidentified=true")
    assert response.status_code == 200
    uid = json.loads(response.content)["00081199"]["Value"][0]["00081155"]["Value"][0]
    assert uid == str(pydicom.dcmread(get_testdata_file("CT_small.dcm")).SOPInstanceUID)


def test_session_writes_need_the_csrf_token(people, study_library):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(people["educator"])
    assert _post(client, multipart(CT_SMALL)).status_code == 403
