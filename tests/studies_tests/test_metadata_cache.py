"""WADO-RS metadata is converted from DICOM once per file version and reused: a second
viewer gets the same document with its own URLs, and a rewritten file is converted again."""

from __future__ import annotations

import json
import os
import shutil

import pydicom
from pydicom.data import get_testdata_file

from studies.dicomweb.dicomjson import instance_metadata_encoded
from studies.models import Instance


def _instance() -> Instance:
    # Not saved: the conversion reads only what describes the pixel data.
    return Instance(pixel_data_offset=0, pixel_data_length=32768, bits_allocated=16)


def test_cached_metadata_carries_each_requests_urls_and_follows_a_rewritten_file(tmp_path):
    path = tmp_path / "ct.dcm"
    shutil.copy(get_testdata_file("CT_small.dcm"), path)
    first = json.loads(instance_metadata_encoded(_instance(), path=path, instance_url="http://a/i"))
    again = json.loads(instance_metadata_encoded(_instance(), path=path, instance_url="http://b/i"))
    assert first["7FE00010"]["BulkDataURI"] == "http://a/i/bulkdata/7FE00010"
    assert again["7FE00010"]["BulkDataURI"] == "http://b/i/bulkdata/7FE00010"
    assert (
        json.dumps(first).count("http://a/i/bulkdata/")
        == json.dumps(again).count("http://b/i/bulkdata/")
        > 1
    )  # Pixel Data and a private OB element
    assert json.dumps(first).replace("http://a/i/", "") == json.dumps(again).replace(
        "http://b/i/", ""
    )

    dataset = pydicom.dcmread(path)
    dataset.PatientName = "Rewritten^Patient"
    dataset.save_as(path)
    os.utime(path, ns=(1, 1))  # a new version even within the file system's time resolution
    rewritten = json.loads(
        instance_metadata_encoded(_instance(), path=path, instance_url="http://a/i")
    )
    assert rewritten["00100010"]["Value"] == [{"Alphabetic": "Rewritten^Patient"}]


def test_a_value_that_spells_the_bulk_data_key_is_left_alone(tmp_path):
    path = tmp_path / "ct.dcm"
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.StudyDescription = '"BulkDataURI":"x'
    dataset.save_as(path)
    document = json.loads(
        instance_metadata_encoded(_instance(), path=path, instance_url="http://a/i")
    )
    assert document["00081030"]["Value"] == ['"BulkDataURI":"x']
