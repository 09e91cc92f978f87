"""The manifest of a built study: what it is, where it came from, what de-identification did.

Written as `<out_dir>/<study_key>/manifest.json` next to the DICOM files; the pipeline
compares its `fingerprint` to decide whether a study must be rebuilt.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

MANIFEST_FILE_NAME = "manifest.json"


@dataclass(frozen=True)
class SourceRecord:
    """One source file: the package it ships in and the checksums that identify it."""

    package: str
    version: str
    registry: str
    path: str  # inside the package
    licence: str
    archive_sha256: str  # of the downloaded archive; "" for installed packages
    file_sha256: str  # of the file itself


@dataclass(frozen=True)
class SeriesRecord:
    series_number: int
    series_instance_uid: str
    modality: str
    sop_class_uid: str
    description: str
    instance_count: int
    directory: str  # relative to the study directory


@dataclass(frozen=True)
class DeidentificationSummary:
    """The union of the per-instance reports (studies.deidentify), by outcome."""

    method: list[str]
    method_codes: list[str]
    date_offset_days: int | None
    review_status: str
    review_reasons: list[str]
    removed: list[str] = field(default_factory=list)
    emptied: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    uid_replaced: list[str] = field(default_factory=list)
    date_shifted: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StudyManifest:
    key: str
    title: str
    description: str
    modality: str
    modalities: list[str]
    licence: str
    patient_name: str
    patient_id: str
    patient_birth_date: str
    patient_sex: str
    study_instance_uid: str
    accession_number: str
    study_date: str
    series: list[SeriesRecord]
    sources: list[SourceRecord]
    deidentification: DeidentificationSummary
    builder_version: int
    fingerprint: str
    layout: str
    software: dict[str, str]

    @property
    def review_status(self) -> str:
        return self.deidentification.review_status

    @property
    def instance_count(self) -> int:
        return sum(series.instance_count for series in self.series)


def study_manifest_write(*, manifest: StudyManifest, study_dir: Path) -> Path:
    """Write the manifest as indented, key-sorted JSON (stable bytes for stable input)."""
    path = study_dir / MANIFEST_FILE_NAME
    path.write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True) + "\n")
    return path


def study_manifest_read(*, study_dir: Path) -> StudyManifest | None:
    """The manifest in `study_dir`, or None if there is none or it cannot be read."""
    path = study_dir / MANIFEST_FILE_NAME
    try:
        data = json.loads(path.read_text())
        data["series"] = [SeriesRecord(**s) for s in data["series"]]
        data["sources"] = [SourceRecord(**s) for s in data["sources"]]
        data["deidentification"] = DeidentificationSummary(**data["deidentification"])
        return StudyManifest(**data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
