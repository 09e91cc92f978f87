"""The DICOM JSON Model (PS3.18 Annex F) for search results and metadata.

Search results are written from the index rows (no file is opened for the attributes the
index keeps); attributes asked for with `includefield` that the index does not keep are
read from a representative file's header. Metadata is read from the files, with large
binary values replaced by BulkDataURIs (PS3.18 §F.2.6).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pydicom
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement

from studies.models import Instance, Series, Study

DICOM_JSON = "application/dicom+json"
# Binary values longer than this go out as BulkDataURIs, not inline (PS3.18 §F.2.6).
BULK_DATA_THRESHOLD = 1024
_PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


def tag_hex(keyword: str) -> str:
    return f"{tag_for_keyword(keyword):08X}"


def _value(vr: str, *values) -> dict:
    present = [v for v in values if v not in (None, "")]
    return {"vr": vr, "Value": present} if present else {"vr": vr}


def _person_name(name: str) -> dict:
    return {"vr": "PN", "Value": [{"Alphabetic": name}]} if name else {"vr": "PN"}


def _multi(vr: str, text: str) -> dict:
    return _value(vr, *[part for part in text.split("\\") if part])


def study_attributes(study: Study, *, retrieve_url: str) -> dict[str, dict]:
    """PS3.18 Table 10.6.3-3: the attributes a study search returns by default."""
    return {
        "00080005": _value("CS", "ISO_IR 192"),
        "00080020": _value("DA", study.study_date.strftime("%Y%m%d") if study.study_date else ""),
        "00080030": _value("TM", study.study_time),
        "00080050": _value("SH", study.accession_number),
        "00080056": _value("CS", "ONLINE"),
        "00080061": _multi("CS", study.modalities_in_study),
        "00080090": _person_name(study.referring_physician_name),
        "00081190": _value("UR", retrieve_url),
        "00100010": _person_name(study.patient_name),
        "00100020": _value("LO", study.patient_id),
        "00100030": _value("DA", study.patient_birth_date),
        "00100040": _value("CS", study.patient_sex),
        "0020000D": _value("UI", study.study_instance_uid),
        "00200010": _value("SH", study.study_id),
        "00201206": _value("IS", study.number_of_series),
        "00201208": _value("IS", study.number_of_instances),
    }


def study_extra_attributes(study: Study) -> dict[str, dict]:
    """Study attributes the index keeps that a search returns when asked (includefield)."""
    return {"00081030": _value("LO", study.study_description)}


def series_attributes(series: Series, *, retrieve_url: str) -> dict[str, dict]:
    """PS3.18 Table 10.6.3-4: the attributes a series search returns by default."""
    return {
        "00080005": _value("CS", "ISO_IR 192"),
        "00080056": _value("CS", "ONLINE"),
        "00080060": _value("CS", series.modality),
        "0008103E": _value("LO", series.series_description),
        "00081190": _value("UR", retrieve_url),
        "0020000D": _value("UI", series.study.study_instance_uid),
        "0020000E": _value("UI", series.series_instance_uid),
        "00200011": _value("IS", series.series_number),
        "00201209": _value("IS", series.number_of_instances),
    }


def instance_attributes(instance: Instance, *, retrieve_url: str) -> dict[str, dict]:
    """PS3.18 Table 10.6.3-5: the attributes an instance search returns by default."""
    return {
        "00080005": _value("CS", "ISO_IR 192"),
        "00080016": _value("UI", instance.sop_class_uid),
        "00080018": _value("UI", instance.sop_instance_uid),
        "00080056": _value("CS", "ONLINE"),
        "00081190": _value("UR", retrieve_url),
        "0020000D": _value("UI", instance.series.study.study_instance_uid),
        "0020000E": _value("UI", instance.series.series_instance_uid),
        "00200013": _value("IS", instance.instance_number),
        "00280008": _value("IS", instance.number_of_frames or None),
        "00280010": _value("US", instance.rows),
        "00280011": _value("US", instance.columns),
        "00280100": _value("US", instance.bits_allocated),
    }


# Attributes "includefield=all" adds from a representative file, by level.
STUDY_LEVEL_EXTRA = (
    "StudyDescription",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "IssuerOfPatientID",
    "OtherPatientIDs",
    "PatientComments",
    "NameOfPhysiciansReadingStudy",
    "ProcedureCodeSequence",
)
SERIES_LEVEL_EXTRA = (
    "SeriesDate",
    "SeriesTime",
    "BodyPartExamined",
    "ProtocolName",
    "Laterality",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "Manufacturer",
    "ManufacturerModelName",
)


def header_read(path: Path) -> pydicom.Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)


def header_attributes(
    header: pydicom.Dataset, *, tags: Iterable[int], bulk_data_uri: Callable[[int], str]
) -> dict[str, dict]:
    """The named top-level attributes of a header, in the JSON model (absent ones skipped)."""
    selected = pydicom.Dataset()
    for tag in tags:
        if tag in header:
            selected[tag] = header[tag]
    return dataset_json(selected, bulk_data_uri=bulk_data_uri)


def dataset_json(ds: pydicom.Dataset, *, bulk_data_uri: Callable[[int], str]) -> dict[str, dict]:
    """A dataset in the JSON model; binary values over BULK_DATA_THRESHOLD become URIs."""

    def bulk(elem: DataElement) -> str:
        return bulk_data_uri(int(elem.tag))

    return ds.to_json_dict(bulk_data_threshold=BULK_DATA_THRESHOLD, bulk_data_element_handler=bulk)


def instance_metadata(instance: Instance, *, path: Path, bulk_data_uri: Callable[[int], str]):
    """WADO-RS metadata of one instance (PS3.18 §10.4.1.1.2): every attribute of the file,
    Pixel Data as a BulkDataURI (never inline)."""
    header = header_read(path)
    document = dataset_json(header, bulk_data_uri=bulk_data_uri)
    if instance.pixel_data_offset is not None or instance.pixel_data_length is not None:
        encapsulated = instance.pixel_data_length == -1
        vr = "OW" if (instance.bits_allocated or 8) > 8 and not encapsulated else "OB"
        document["7FE00010"] = {"vr": vr, "BulkDataURI": bulk_data_uri(0x7FE00010)}
    return dict(sorted(document.items()))


def json_array_stream(documents: Iterable[dict]) -> Iterator[bytes]:
    """A JSON array written one element at a time (a series' metadata is not held whole)."""
    yield b"["
    for index, document in enumerate(documents):
        yield (b"," if index else b"") + json.dumps(document, separators=(",", ":")).encode()
    yield b"]"


def keyword_or_tag_resolve(text: str) -> int | None:
    """A tag from a keyword ("PatientName") or 8 hex digits ("00100010"); None if neither."""
    text = text.strip()
    if len(text) == 8:
        try:
            tag = int(text, 16)
        except ValueError:
            tag = None
        if tag is not None:
            return tag
    tag = tag_for_keyword(text)
    return int(tag) if tag is not None else None


def keyword_of(tag: int) -> str:
    return keyword_for_tag(tag) or f"{tag:08X}"
