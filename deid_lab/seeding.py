"""The seeded study of the de-identification lab: a real CT slice dressed with fictitious PHI.

The image is pydicom's CT_small (a real GE HiSpeed CT/i slice, MIT licence). Its own
identifiers are replaced and the fictitious values below are written into the header, a
private block, sequence items, free text and the pixels (burned-in name and MRN in the
top-left corner). Everything is built by code from the same inputs, so the study is the
same byte for byte on every machine and every run.

`SEEDED_PHI` is the one list of what was planted and where; the lab scores the resident's
findings against it and the verifier searches the de-identified result for it. Every
person, number and place here is invented.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pydicom
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageDraw, ImageFont
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

Variant = Literal["declared", "undeclared"]
VARIANT_CHOICES = [
    ("declared", _("Burned-in name and MRN; the header says so (Burned In Annotation YES)")),
    (
        "undeclared",
        _("Burned-in name and MRN; the header says Burned In Annotation NO (the trap)"),
    ),
]

# A fictitious hospital's UID root: an arc under the UUID-derived OID 2.25.<uuid> (PS3.5
# B.2), which its generator owns and may extend, like a hospital's registered root.
SEEDED_UID_ROOT = (
    f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'artefact:deid-lab:northwind-general').int}"
)
PRIVATE_GROUP = 0x0033
PRIVATE_CREATOR = "HARBOURVIEW RIS 2.1"  # a fictitious RIS that stamps its own block

PATIENT_NAME = "HALVORSEN^INGRID^MARIE"
PATIENT_ID = "NWG-00482913"
OTHER_PATIENT_IDS = ("KES-7719204", "943-476-5919")
BIRTH_DATE = "19580723"
PATIENT_SEX = "F"
PATIENT_AGE = "065Y"
PATIENT_WEIGHT = "71"
PATIENT_SIZE = "1.68"
ACCESSION_NUMBER = "A24-0311-0517"
STUDY_ID = "CT5521"
REQUESTED_PROCEDURE_ID = "RP-24-0517"
SCHEDULED_STEP_ID = "SPS-24-0517"
REFERRING_PHYSICIAN = "OKONKWO^CHIDI^^DR"
OPERATOR = "PRZYBYLSKI^TOMASZ"
INSTITUTION_NAME = "NORTHWIND GENERAL HOSPITAL"
INSTITUTION_ADDRESS = "14 Harbour Road, Port Kestrel KS4 0DN"
DEPARTMENT_NAME = "RADIOLOGY CT SUITE 2"
STATION_NAME = "NWG-CT02"
DEVICE_SERIAL = "HSCT-7741-0093"
STUDY_DATE = "20240311"
STUDY_TIMES = {
    "StudyTime": "093512",
    "SeriesTime": "094003",
    "AcquisitionTime": "094117",
    "ContentTime": "094120",
}
STUDY_DESCRIPTION = "CT ABDOMEN PELVIS - DR OKONKWO"
IMAGE_COMMENTS = "Pt Ingrid Halvorsen MRN NWG-00482913 phoned 11/03/2024 re contrast"
BURNED_IN_LINES = ("HALVORSEN", "INGRID", PATIENT_ID)
BURNED_IN_ORIGIN = (3, 3)  # (row, column) of the first line's top-left corner
BURNED_IN_STORED_VALUE = 4095  # full white for a 12-bit CT: 3071 HU, above any tissue

PIXEL_DATA = "PixelData"
# How the verifier looks for a value: as text anywhere, as this exact value in the elements
# it was planted in, as a date (any DA/DT, and spelled out in text), or as a UID root.
Match = Literal["text", "value", "date", "uid_root", "pixels"]


@dataclass(frozen=True)
class SeededPhi:
    """One planted identifier: what it is, where it was put, and why it identifies."""

    key: str
    label: str
    match: Match
    needles: tuple[str, ...]  # what the verifier searches for
    locations: tuple[str, ...]  # element paths (studies.deidentify naming) or "PixelData"
    why: str


SEEDED_PHI: tuple[SeededPhi, ...] = (
    SeededPhi(
        "patient_name",
        "Patient's name",
        "text",
        ("HALVORSEN",),
        ("PatientName", "ImageComments", "(0033,1010)"),
        "A name identifies the patient directly (Table E.1-1: Patient's Name, Z).",
    ),
    SeededPhi(
        "patient_id",
        "Medical record number",
        "text",
        (PATIENT_ID, PATIENT_ID.split("-")[1]),
        ("PatientID", "ImageComments", "(0033,1011)"),
        "The MRN links the images to the hospital record (Patient ID, Z).",
    ),
    SeededPhi(
        "other_patient_ids",
        "Other patient IDs (another hospital's MRN, a national number)",
        "text",
        OTHER_PATIENT_IDS,
        ("OtherPatientIDsSequence[0].PatientID", "OtherPatientIDsSequence[1].PatientID"),
        "Identifiers inside sequence items are as identifying as top-level ones "
        "(Other Patient IDs Sequence, X).",
    ),
    SeededPhi(
        "birth_date",
        "Birth date",
        "date",
        (BIRTH_DATE,),
        ("PatientBirthDate",),
        "Birth date with sex and postcode singles out most people (Patient's Birth Date, Z).",
    ),
    SeededPhi(
        "patient_characteristics",
        "Age, sex, weight and height",
        "value",
        (PATIENT_AGE, PATIENT_SEX, PATIENT_WEIGHT, PATIENT_SIZE),
        ("PatientAge", "PatientSex", "PatientWeight", "PatientSize"),
        "Physical characteristics narrow down who the patient is (Patient's Age, X; Sex, Z; "
        "Weight and Size, X); the Retain Patient Characteristics option keeps them.",
    ),
    SeededPhi(
        "accession",
        "Accession and order numbers",
        "text",
        (ACCESSION_NUMBER, REQUESTED_PROCEDURE_ID, SCHEDULED_STEP_ID, STUDY_ID),
        (
            "AccessionNumber",
            "StudyID",
            "RequestAttributesSequence[0].AccessionNumber",
            "RequestAttributesSequence[0].RequestedProcedureID",
            "RequestAttributesSequence[0].ScheduledProcedureStepID",
        ),
        "RIS numbers lead straight back to the order and the patient (Accession Number, Z; "
        "Study ID, Z; Request Attributes Sequence, X).",
    ),
    SeededPhi(
        "referring_physician",
        "Referring physician",
        "text",
        ("OKONKWO",),
        ("ReferringPhysicianName", "StudyDescription"),
        "Staff names identify the care episode (Referring Physician's Name, Z).",
    ),
    SeededPhi(
        "operator",
        "Radiographer (operator)",
        "text",
        ("PRZYBYLSKI",),
        ("OperatorsName",),
        "Staff names identify the care episode (Operators' Name, X/Z/D).",
    ),
    SeededPhi(
        "institution",
        "Institution name, address and department",
        "text",
        ("NORTHWIND", "Harbour Road", DEPARTMENT_NAME),
        ("InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName"),
        "Where the scan was done narrows the population (Institution Name, X/Z/D; Address "
        "and Department, X); the Retain Institution Identity option keeps them.",
    ),
    SeededPhi(
        "device",
        "Station name and device serial number",
        "text",
        (STATION_NAME, DEVICE_SERIAL),
        ("StationName", "DeviceSerialNumber"),
        "A unique scanner points to one site and, with a date, to a handful of patients "
        "(Station Name, Device Serial Number, X/Z/D); Retain Device Identity keeps them.",
    ),
    SeededPhi(
        "dates",
        "Study, series, acquisition and content dates",
        "date",
        (STUDY_DATE,),
        ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "ImageComments"),
        "The day of the scan matches hospital logs (Study Date, Z; the others X/Z or X/D); "
        "the Retain Longitudinal Temporal Information options keep or shift them.",
    ),
    SeededPhi(
        "times",
        "Study, series, acquisition and content times",
        "value",
        tuple(STUDY_TIMES.values()),
        tuple(STUDY_TIMES),
        "With the date, the time of the scan singles out one patient on a scanner.",
    ),
    SeededPhi(
        "uids",
        "UIDs under the hospital's root",
        "uid_root",
        (SEEDED_UID_ROOT,),
        ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"),
        "Original UIDs can be looked up in the hospital's PACS (U: replace consistently); "
        "Retain UIDs keeps them.",
    ),
    SeededPhi(
        "burned_in",
        "Name and MRN burned into the pixels",
        "pixels",
        BURNED_IN_LINES,
        (PIXEL_DATA,),
        "Text in the pixels survives every header rule; only Clean Pixel Data (E.3.1) or a "
        "person removes it, and the Burned In Annotation flag may be wrong.",
    ),
)
SEEDED_PHI_BY_KEY = {item.key: item for item in SEEDED_PHI}


def seeded_locations() -> dict[str, list[SeededPhi]]:
    """Every planted location with the identifiers it holds, in list order."""
    found: dict[str, list[SeededPhi]] = {}
    for item in SEEDED_PHI:
        for location in item.locations:
            found.setdefault(location, []).append(item)
    return found


# Public attributes of CT_small that carry identity or time, replaced or dropped below.
_SOURCE_ATTRIBUTES_DROPPED = (
    "InstanceCreationDate",
    "InstanceCreationTime",
    "InstanceCreatorUID",
    "TimezoneOffsetFromUTC",
    "AdditionalPatientHistory",
    "DataSetTrailingPadding",
)
# Private blocks of CT_small kept: Table E.3.10-1 lists these elements as safe.
_SOURCE_PRIVATE_KEPT = {
    (0x0019, "GEMS_ACQU_01"): (0x23, 0x24, 0x27),
    (0x0043, "GEMS_PARM_01"): (0x27,),
}


@dataclass(frozen=True)
class SeededStudy:
    dataset: Dataset
    text_mask: np.ndarray  # bool, True where burned-in text pixels were drawn
    text_stored_value: int


def seeded_study_build(*, variant: Variant = "declared") -> SeededStudy:
    """The seeded instance (a fresh object each call; mutate it freely)."""
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds = Dataset()
    for elem in source:
        if elem.tag.is_private or elem.keyword in _SOURCE_ATTRIBUTES_DROPPED:
            continue
        ds.add(elem)
    _private_safe_copy(source, ds)

    ds.SOPInstanceUID = f"{SEEDED_UID_ROOT}.1.3.1"
    ds.StudyInstanceUID = f"{SEEDED_UID_ROOT}.1"
    ds.SeriesInstanceUID = f"{SEEDED_UID_ROOT}.1.3"
    ds.FrameOfReferenceUID = f"{SEEDED_UID_ROOT}.1.9"
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = BIRTH_DATE
    ds.PatientSex = PATIENT_SEX
    ds.PatientAge = PATIENT_AGE
    ds.PatientWeight = PATIENT_WEIGHT
    ds.PatientSize = PATIENT_SIZE
    ds.OtherPatientIDsSequence = Sequence(
        [
            _other_patient_id(OTHER_PATIENT_IDS[0], issuer="KESTREL COMMUNITY HOSPITAL"),
            _other_patient_id(OTHER_PATIENT_IDS[1], issuer="NATIONAL HEALTH NUMBER"),
        ]
    )
    ds.AccessionNumber = ACCESSION_NUMBER
    ds.StudyID = STUDY_ID
    ds.ReferringPhysicianName = REFERRING_PHYSICIAN
    ds.OperatorsName = OPERATOR
    ds.InstitutionName = INSTITUTION_NAME
    ds.InstitutionAddress = INSTITUTION_ADDRESS
    ds.InstitutionalDepartmentName = DEPARTMENT_NAME
    ds.StationName = STATION_NAME
    ds.DeviceSerialNumber = DEVICE_SERIAL
    for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
        setattr(ds, keyword, STUDY_DATE)
    for keyword, value in STUDY_TIMES.items():
        setattr(ds, keyword, value)
    ds.StudyDescription = STUDY_DESCRIPTION
    ds.SeriesDescription = "AXIAL 5MM STANDARD"
    ds.ImageComments = IMAGE_COMMENTS
    request = Dataset()
    request.AccessionNumber = ACCESSION_NUMBER
    request.RequestedProcedureID = REQUESTED_PROCEDURE_ID
    request.ScheduledProcedureStepID = SCHEDULED_STEP_ID
    ds.RequestAttributesSequence = Sequence([request])
    block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    block.add_new(0x10, "LO", "HALVORSEN^INGRID")
    block.add_new(0x11, "LO", PATIENT_ID)

    pixels = source.pixel_array.copy()
    mask = burned_in_text_mask(pixels.shape)
    pixels[mask] = BURNED_IN_STORED_VALUE
    ds.PixelData = pixels.astype(source.pixel_array.dtype).tobytes()
    ds.BurnedInAnnotation = "YES" if variant == "declared" else "NO"

    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.SourceApplicationEntityTitle = "NWG_CT02"
    return SeededStudy(dataset=ds, text_mask=mask, text_stored_value=BURNED_IN_STORED_VALUE)


def burned_in_text_mask(shape: tuple[int, int]) -> np.ndarray:
    """Where the burned-in lines are drawn: Pillow's built-in bitmap font, one line per row."""
    canvas = Image.new("1", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default_imagefont()
    row, column = BURNED_IN_ORIGIN
    for line in BURNED_IN_LINES:
        draw.text((column, row), line, fill=1, font=font)
        row += 11
    return np.array(canvas, dtype=bool)


def _other_patient_id(value: str, *, issuer: str) -> Dataset:
    item = Dataset()
    item.PatientID = value
    item.IssuerOfPatientID = issuer
    item.TypeOfPatientID = "TEXT"
    return item


def _private_safe_copy(source: Dataset, target: Dataset) -> None:
    for (group, creator), offsets in _SOURCE_PRIVATE_KEPT.items():
        source_block = source.private_block(group, creator)
        target_block = target.private_block(group, creator, create=True)
        for offset in offsets:
            elem = source_block[offset]
            target_block.add_new(offset, elem.VR, elem.value)
