"""The DICOM JSON Model (PS3.18 Annex F) for search results and metadata.

Search results are written from the index rows (no file is opened for the attributes the
index keeps); attributes asked for with `includefield` that the index does not keep are
read from a representative file's header. Metadata is read from the files, with large
binary values replaced by BulkDataURIs (PS3.18 §F.2.6).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
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
    """PS3.18 Table 10.6.3-5: the attributes an instance search returns by default, after
    the patient, study and series identity that Orthanc (and OHIF-style clients reading it)
    expect on every instance row. Number of Frames only where the object has one."""
    study, series = instance.series.study, instance.series
    attributes = {
        "00080005": _value("CS", "ISO_IR 192"),
        "00080016": _value("UI", instance.sop_class_uid),
        "00080018": _value("UI", instance.sop_instance_uid),
        "00080020": _value("DA", study.study_date.strftime("%Y%m%d") if study.study_date else ""),
        "00080030": _value("TM", study.study_time),
        "00080050": _value("SH", study.accession_number),
        "00080056": _value("CS", "ONLINE"),
        "00080060": _value("CS", series.modality),
        "00080090": _person_name(study.referring_physician_name),
        "00081190": _value("UR", retrieve_url),
        "00100010": _person_name(study.patient_name),
        "00100020": _value("LO", study.patient_id),
        "00100030": _value("DA", study.patient_birth_date),
        "00100040": _value("CS", study.patient_sex),
        "0020000D": _value("UI", study.study_instance_uid),
        "0020000E": _value("UI", series.series_instance_uid),
        "00200010": _value("SH", study.study_id),
        "00200011": _value("IS", series.series_number),
        "00200013": _value("IS", instance.instance_number),
    }
    # Image attributes only for objects that have them (an SR or a PDF has no Rows).
    for tag, value in (
        ("00280010", instance.rows),
        ("00280011", instance.columns),
        ("00280100", instance.bits_allocated),
    ):
        if value is not None:
            attributes[tag] = _value("US", value)
    if series.series_description:
        attributes["0008103E"] = _value("LO", series.series_description)
    if instance.declares_number_of_frames:
        attributes["00280008"] = _value("IS", instance.number_of_frames)
    return dict(sorted(attributes.items()))


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
    """A dataset in the JSON model; binary values over BULK_DATA_THRESHOLD become URIs.

    pydicom writes most elements. Two cases it gets wrong are written here: an empty value
    inside a multi-valued attribute is `null` (PS3.18 §F.2.5; pydicom writes "" for strings
    and fails on PN, IS and DS), and a number that does not parse is `null` instead of an
    exception that would fail the whole response.
    """
    document = {}
    # Tags, not `for elem in ds`: iterating a Dataset converts every value first, and one
    # unconvertible value would fail the whole document.
    for tag in list(ds.keys()):
        if tag.element == 0 and tag.group > 2:
            continue  # group lengths are retired (PS3.5 §7.2) and pydicom skips them too
        try:
            elem = ds[tag]
        except (TypeError, ValueError, IndexError):
            # A value pydicom refuses to convert (e.g. "abc" as a decimal string): written
            # from its stored text, value by value.
            raw = ds.get_item(tag)
            text = raw.value.decode("latin-1") if isinstance(raw.value, bytes) else ""
            values = text.rstrip("\x00 ").split("\\")
            document[f"{int(tag):08X}"] = {
                "vr": str(raw.VR),
                "Value": [_scalar_json(str(raw.VR), value.strip()) for value in values],
            }
            continue
        document[f"{int(tag):08X}"] = _element_json(elem, bulk_data_uri=bulk_data_uri)
    return document


_NUMBER_TYPES = {"IS": int, "DS": float}


def _element_json(elem: DataElement, *, bulk_data_uri: Callable[[int], str]) -> dict:
    if elem.VR == "SQ":
        items = [dataset_json(item, bulk_data_uri=bulk_data_uri) for item in elem.value]
        return {"vr": "SQ", "Value": items} if items else {"vr": "SQ"}
    multi_with_empties = elem.VM > 1 and any(v in ("", None) for v in elem.value)
    if not multi_with_empties:
        try:
            return elem.to_json_dict(
                bulk_data_element_handler=lambda e: bulk_data_uri(int(e.tag)),
                bulk_data_threshold=BULK_DATA_THRESHOLD,
            )
        except (TypeError, ValueError, IndexError):
            pass  # written value by value below
    values = elem.value if elem.VM > 1 else [elem.value]
    return {"vr": elem.VR, "Value": [_scalar_json(elem.VR, value) for value in values]}


def _scalar_json(vr: str, value):
    if value in ("", None):
        return None
    if vr == "PN":
        components = str(value).split("=")
        names = ("Alphabetic", "Ideographic", "Phonetic")
        return {name: part for name, part in zip(names, components, strict=False) if part}
    if vr in _NUMBER_TYPES:
        try:
            return _NUMBER_TYPES[vr](float(value)) if vr == "IS" else float(value)
        except (TypeError, ValueError):
            return None
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value if isinstance(value, int | float) else str(value)


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


# The metadata of an instance, as JSON, by file version: a study opened by a class of
# residents is converted from DICOM once per web process, not once per viewer (converting
# the chest CT's 134 headers and its SEG takes ~3 s of CPU). Bounded by size, oldest out.
METADATA_CACHE_BYTES = 64 * 1024 * 1024
_metadata_cache: OrderedDict[tuple, bytes] = OrderedDict()
_metadata_cache_size = 0
_metadata_cache_lock = threading.Lock()
# Where the document names bulk data; JSON escapes a quote inside a value, so this byte
# sequence occurs only as the key itself.
_BULK_DATA_KEY = b'"BulkDataURI":"'


def instance_metadata_encoded(instance: Instance, *, path: Path, instance_url: str) -> bytes:
    """`instance_metadata` as JSON bytes, bulk data under `instance_url`; from the cache
    when this version of the file (path, size, modification time) was converted before."""
    global _metadata_cache_size
    stat = path.stat()
    key = (
        str(path),
        stat.st_mtime_ns,
        stat.st_size,
        instance.pixel_data_offset,
        instance.pixel_data_length,
        instance.bits_allocated,
    )
    with _metadata_cache_lock:
        encoded = _metadata_cache.get(key)
        if encoded is not None:
            _metadata_cache.move_to_end(key)
    if encoded is None:
        document = instance_metadata(
            instance, path=path, bulk_data_uri=lambda tag: f"bulkdata/{tag:08X}"
        )
        encoded = json.dumps(document, separators=(",", ":")).encode()
        with _metadata_cache_lock:
            if key not in _metadata_cache and len(encoded) <= METADATA_CACHE_BYTES:
                _metadata_cache[key] = encoded
                _metadata_cache_size += len(encoded)
                while _metadata_cache_size > METADATA_CACHE_BYTES:
                    _evicted_key, evicted = _metadata_cache.popitem(last=False)
                    _metadata_cache_size -= len(evicted)
    return encoded.replace(_BULK_DATA_KEY, _BULK_DATA_KEY + instance_url.encode() + b"/")


def json_array_stream(documents: Iterable[dict]) -> Iterator[bytes]:
    """A JSON array written one element at a time (a series' metadata is not held whole)."""
    return json_array_join(
        json.dumps(document, separators=(",", ":")).encode() for document in documents
    )


def json_array_join(encoded: Iterable[bytes]) -> Iterator[bytes]:
    """A JSON array of elements already encoded, written one at a time."""
    yield b"["
    for index, element in enumerate(encoded):
        yield (b"," if index else b"") + element
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
