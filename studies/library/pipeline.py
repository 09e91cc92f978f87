"""Build the sample study library: sources -> raw series -> de-identified DICOM files.

Output layout (one directory per study):

    <out_dir>/<study_key>/manifest.json
    <out_dir>/<study_key>/<SeriesNumber>/<InstanceNumber, 4 digits>.dcm

Every instance is de-identified with the Basic Profile (studies.deidentify) using one UID
map per study, with dates moved so that the Study Date becomes the library's study date
(Retain Longitudinal Temporal Information with Modified Dates option); then the fictitious
identity and the values we author are written. Files are Part 10, Explicit VR Little Endian.

Rebuilding is reproducible: every UID derives from the study key and the source UIDs, so
the same sources give the same UIDs and the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import highdicom
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from studies.deidentify import (
    CODE_BASIC_PROFILE,
    CODE_MODIFIED_DATES,
    DEIDENTIFICATION_METHOD,
    DEIDENTIFICATION_METHOD_MODIFIED_DATES,
    REVIEW_STATUS_CLEAN,
    REVIEW_STATUS_QUARANTINE,
    DeidentificationReport,
    Outcome,
    UidMap,
    dataset_deidentify,
)
from studies.library.identity import library_identity_apply
from studies.library.manifest import (
    DeidentificationSummary,
    SeriesRecord,
    SourceRecord,
    StudyManifest,
    study_manifest_read,
    study_manifest_write,
)
from studies.library.sources import DEFAULT_CACHE_DIR, Progress, file_sha256, source_file_locate
from studies.library.study_builder import STUDY_BUILDERS, BuildInputs, SeriesDraft, StudyBuilder

logger = logging.getLogger(__name__)

# Bump when the pipeline itself changes its output (de-identification, layout, identity).
LIBRARY_FORMAT_VERSION = 2
LAYOUT = "<study_key>/<SeriesNumber>/<InstanceNumber:04d>.dcm, manifest.json"


@dataclass(frozen=True)
class BuiltStudy:
    """A study in the library; `skipped` is True when an identical earlier build was kept."""

    key: str
    directory: Path
    manifest: StudyManifest
    skipped: bool


def library_build(
    *,
    out_dir: Path,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    only: list[str] | None = None,
    progress: Progress = logger.info,
) -> list[BuiltStudy]:
    """Build every registered study (or those in `only`) into `out_dir`.

    Idempotent: a study whose manifest records the same fingerprint (source checksums,
    builder and pipeline versions, identity, library versions) and whose files are all
    present is skipped without rewriting anything. Sources are fetched on first use (see
    studies.library.sources). Raises KeyError for an unknown key in `only`.
    """
    builders = library_builders_select(only=only)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        study_build(builder=builder, out_dir=out_dir, cache_dir=cache_dir, progress=progress)
        for builder in builders
    ]


def library_builders_select(*, only: list[str] | None) -> list[StudyBuilder]:
    """The registered builders, in registry order, restricted to `only` if given."""
    import studies.library.builders  # noqa: F401  (registers every builder module)

    if only is None:
        return list(STUDY_BUILDERS.values())
    unknown = sorted(set(only) - set(STUDY_BUILDERS))
    if unknown:
        raise KeyError(f"Unknown study keys {unknown}; known: {sorted(STUDY_BUILDERS)}")
    return [STUDY_BUILDERS[key] for key in only]


def study_build(
    *, builder: StudyBuilder, out_dir: Path, cache_dir: Path, progress: Progress
) -> BuiltStudy:
    """Build one study into `<out_dir>/<key>`, replacing an outdated build atomically."""
    files = {
        source_file.path: source_file_locate(
            file=source_file, cache_dir=cache_dir, progress=progress
        )
        for source_file in builder.sources
    }
    sources = [
        SourceRecord(
            package=source_file.source.package,
            version=source_file.source.version,
            registry=source_file.source.registry,
            path=source_file.path,
            licence=source_file.source.licence,
            archive_sha256=source_file.source.archive_sha256,
            file_sha256=file_sha256(files[source_file.path]),
        )
        for source_file in builder.sources
    ]
    fingerprint = _build_fingerprint(builder=builder, sources=sources)
    study_dir = out_dir / builder.key
    existing = study_manifest_read(study_dir=study_dir)
    if (
        existing is not None
        and existing.fingerprint == fingerprint
        and _study_files_complete(study_dir=study_dir, manifest=existing)
    ):
        progress(f"[{builder.key}] up to date")
        return BuiltStudy(key=builder.key, directory=study_dir, manifest=existing, skipped=True)

    packages = sorted({f"{s.package} {s.version}" for s in sources})
    progress(f"[{builder.key}] building from {len(sources)} file(s) of {', '.join(packages)}")
    drafts = builder.series_build(BuildInputs(study_key=builder.key, files=files))
    staging = out_dir / f".{builder.key}.building"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        manifest = _study_write(
            builder=builder,
            drafts=drafts,
            study_dir=staging,
            sources=sources,
            fingerprint=fingerprint,
            progress=progress,
        )
        _directory_replace(old=study_dir, new=staging)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    progress(
        f"[{builder.key}] wrote {manifest.instance_count} instances, "
        f"review status: {manifest.review_status}"
    )
    return BuiltStudy(key=builder.key, directory=study_dir, manifest=manifest, skipped=False)


def _study_write(
    *,
    builder: StudyBuilder,
    drafts: list[SeriesDraft],
    study_dir: Path,
    sources: list[SourceRecord],
    fingerprint: str,
    progress: Progress,
) -> StudyManifest:
    uid_map = UidMap(namespace=f"artefact-library/{builder.key}")
    first_raw = drafts[0].datasets[0]
    study_instance_uid = uid_map.uid_replacement(str(first_raw.StudyInstanceUID))
    date_offset_days = _date_offset_days(
        source_study_date=str(first_raw.get("StudyDate", "") or ""),
        study_date=builder.study.study_date,
    )
    reports: list[DeidentificationReport] = []
    series_records = []
    for draft in drafts:
        written: list[Dataset] = []
        for ds in draft.datasets:
            reports.append(
                dataset_deidentify(ds, uid_map=uid_map, date_offset_days=date_offset_days)
            )
            library_identity_apply(
                ds,
                patient=builder.patient,
                study=builder.study,
                series_description=draft.description,
                curated=draft.curated,
            )
            _dataset_write(
                ds, path=study_dir / str(ds.SeriesNumber) / f"{int(ds.InstanceNumber):04d}.dcm"
            )
            written.append(ds)
        first = written[0]
        series_records.append(
            SeriesRecord(
                series_number=int(first.SeriesNumber),
                series_instance_uid=str(first.SeriesInstanceUID),
                modality=str(first.Modality),
                sop_class_uid=str(first.SOPClassUID),
                description=draft.description,
                instance_count=len(written),
                directory=str(first.SeriesNumber),
            )
        )
        progress(f"[{builder.key}] series {first.SeriesNumber}: {len(written)} instances")
        # Free the pixel data of a written series before building the next manifest entry.
        draft.datasets.clear()

    manifest = StudyManifest(
        key=builder.key,
        title=builder.title,
        description=builder.description,
        modality=builder.modality,
        modalities=sorted({s.modality for s in series_records}),
        licence=", ".join(sorted({s.licence for s in sources})),
        patient_name=builder.patient.name,
        patient_id=builder.patient.patient_id,
        patient_birth_date=builder.patient.birth_date.isoformat(),
        patient_sex=builder.patient.sex,
        study_instance_uid=study_instance_uid,
        accession_number=builder.study.accession_number,
        study_date=builder.study.study_date.isoformat(),
        series=series_records,
        sources=sources,
        deidentification=_deidentification_summary(
            reports=reports, date_offset_days=date_offset_days
        ),
        builder_version=builder.version,
        fingerprint=fingerprint,
        layout=LAYOUT,
        software={"pydicom": pydicom.__version__, "highdicom": highdicom.__version__},
    )
    study_manifest_write(manifest=manifest, study_dir=study_dir)
    return manifest


def _date_offset_days(*, source_study_date: str, study_date: dt.date) -> int:
    """Days that move the source's Study Date onto the library's study date; 0 if the source
    has none (the pipeline then writes the library's date after de-identification)."""
    try:
        source_date = dt.datetime.strptime(source_study_date[:8], "%Y%m%d").date()
    except ValueError:
        return 0
    return (study_date - source_date).days


def _deidentification_summary(
    *, reports: list[DeidentificationReport], date_offset_days: int | None
) -> DeidentificationSummary:
    reasons = sorted({reason for r in reports for reason in r.burned_in_annotation_reasons})
    methods = [DEIDENTIFICATION_METHOD]
    codes = [f"DCM {CODE_BASIC_PROFILE[0]} {CODE_BASIC_PROFILE[1]}"]
    if date_offset_days is not None:
        methods.append(DEIDENTIFICATION_METHOD_MODIFIED_DATES)
        codes.append(f"DCM {CODE_MODIFIED_DATES[0]} {CODE_MODIFIED_DATES[1]}")

    def union(outcome: Outcome) -> list[str]:
        return sorted({k for r in reports for k in r.keywords_with(outcome)})

    return DeidentificationSummary(
        method=methods,
        method_codes=codes,
        date_offset_days=date_offset_days,
        review_status=REVIEW_STATUS_QUARANTINE if reasons else REVIEW_STATUS_CLEAN,
        review_reasons=reasons,
        removed=union("removed"),
        emptied=union("emptied"),
        replaced=union("replaced"),
        uid_replaced=union("uid_replaced"),
        date_shifted=union("date_shifted"),
        cleaned=union("cleaned"),
        kept=union("kept"),
    )


def _dataset_write(ds: Dataset, *, path: Path) -> None:
    """Write a DICOM Part 10 file (PS3.10 7.1) with fresh File Meta Information."""
    if ds.get("PixelData") is not None and getattr(ds, "file_meta", None) is not None:
        syntax = ds.file_meta.get("TransferSyntaxUID")
        if syntax is not None and syntax.is_compressed:
            raise ValueError(f"{path.name}: compressed sources must be decompressed first")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _build_fingerprint(*, builder: StudyBuilder, sources: list[SourceRecord]) -> str:
    facts = {
        "library_format": LIBRARY_FORMAT_VERSION,
        "builder": builder.key,
        "builder_version": builder.version,
        "identity": [repr(builder.patient), repr(builder.study)],
        "sources": sorted(s.file_sha256 for s in sources),
        "software": [pydicom.__version__, highdicom.__version__],
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def _study_files_complete(*, study_dir: Path, manifest: StudyManifest) -> bool:
    for series in manifest.series:
        found = list((study_dir / series.directory).glob("*.dcm"))
        if len(found) != series.instance_count:
            return False
    return True


def _directory_replace(*, old: Path, new: Path) -> None:
    """Put `new` where `old` is, so readers see either the old study or the new one."""
    retired = old.with_name(f".{old.name}.retired")
    if retired.exists():
        shutil.rmtree(retired)
    if old.exists():
        old.rename(retired)
    new.rename(old)
    if retired.exists():
        shutil.rmtree(retired)
