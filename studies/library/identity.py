"""Fictitious identities for library studies, written after de-identification.

Every library instance is first de-identified (studies.deidentify, Basic Profile); only
then are the fictitious patient and the study attributes that we author ourselves
(descriptions, accession number) written. Nothing from the source's identity survives, and
the viewer still shows a plausible worklist entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydicom.dataset import Dataset


@dataclass(frozen=True)
class FictitiousPatient:
    """A made-up patient; `name` is a DICOM PN ("Family^Given"), clearly not a real person."""

    name: str
    patient_id: str
    birth_date: dt.date
    sex: Literal["F", "M", "O"]


@dataclass(frozen=True)
class LibraryStudyIdentity:
    """The study-level values we author: they replace what de-identification removed."""

    accession_number: str  # SH, at most 16 characters
    study_id: str  # SH, at most 16 characters
    study_date: dt.date
    study_time: str  # TM, "HHMMSS"
    study_description: str  # LO, at most 64 characters

    def __post_init__(self) -> None:
        # PS3.5 Table 6.2-1 value length limits, checked here so a typo fails at import.
        for name, limit in (("accession_number", 16), ("study_id", 16), ("study_description", 64)):
            if len(getattr(self, name)) > limit:
                raise ValueError(f"{name} is longer than {limit} characters")


def patient_age_text(*, birth_date: dt.date, on: dt.date) -> str:
    """Age String (AS, PS3.5 6.2) in whole years, e.g. "047Y"."""
    years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    return f"{max(years, 0):03d}Y"


def library_identity_apply(
    ds: Dataset,
    *,
    patient: FictitiousPatient,
    study: LibraryStudyIdentity,
    series_description: str,
    curated: dict[str, object],
) -> None:
    """Write the fictitious identity and authored values into a de-identified instance.

    Precondition: `ds` went through `dataset_deidentify`. If de-identification emptied the
    Study Date (no date shift), the library's study date is written.
    """
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date.strftime("%Y%m%d")
    ds.PatientSex = patient.sex
    if not str(ds.get("StudyDate", "") or ""):
        ds.StudyDate = study.study_date.strftime("%Y%m%d")
    if not str(ds.get("StudyTime", "") or ""):
        ds.StudyTime = study.study_time
    ds.PatientAge = patient_age_text(birth_date=patient.birth_date, on=study.study_date)
    ds.AccessionNumber = study.accession_number
    ds.StudyID = study.study_id
    ds.StudyDescription = study.study_description
    ds.SeriesDescription = series_description
    for keyword, value in curated.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
