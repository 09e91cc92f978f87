"""Writes to the study index and the library: index files, store uploads, set visibility.

The DICOM files are the truth and the rows an index (studies.models): every function here
writes files first (atomically) and then rows that describe them, so a crash can leave an
unindexed file (re-indexing finds it) but never a row without its file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from django.db import transaction
from django.utils import timezone
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import UID

from runs.files import publish
from studies.deid_secret import deid_secret
from studies.deidentify import (
    REVIEW_STATUS_QUARANTINE,
    DeidentificationReport,
    UidMap,
    burned_in_annotation_risk,
    dataset_deidentify,
)
from studies.library.manifest import study_manifest_read
from studies.models import Instance, Series, Study, StudyOrigin
from studies.pixel_budget import (
    JPEG_SYNTAXES,
    DeclaredPixels,
    NotAJpegBitstream,
    PixelBudgetExceeded,
    declared_pixels,
    jpeg_frame_check,
    pixel_budget_check,
)
from studies.selectors import (
    LIBRARY_STORAGE_PREFIX,
    UID_PATTERN,
    library_is_local,
    library_root,
)

logger = logging.getLogger(__name__)

UPLOADS_DIR_NAME = "uploads"
UPLOAD_REPORT_FILE_NAME = "deidentification.json"

# STOW-RS FailureReason values, PS3.18 §10.5.3 (Table 10.5.3-2 refers to PS3.4 Annex GG).
FAILURE_PROCESSING = 0x0110
FAILURE_SOP_CLASS_NOT_SUPPORTED = 0x0122
FAILURE_OUT_OF_RESOURCES = 0xA700
FAILURE_DATA_SET_MISMATCH = 0xA900
FAILURE_CANNOT_UNDERSTAND = 0xC000
FAILURE_TRANSFER_SYNTAX_NOT_SUPPORTED = 0xC122

# Real data sets nest a few levels (an SR content tree perhaps twenty); de-identification,
# DICOM JSON and pydicom recurse per level, so deeper nesting is refused at the door.
SEQUENCE_MAX_DEPTH = 64

_SUPPORTED_TRANSFER_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.57",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
    }
)


# --- Indexing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceFacts:
    """What the index keeps about one file, read from the file itself."""

    header: Dataset
    relative_path: str
    file_size: int
    pixel_data_offset: int | None
    pixel_data_length: int | None


def instance_facts_read(*, path: Path, root: Path) -> InstanceFacts:
    """Read a Part 10 file's header and locate its Pixel Data value without loading it.

    Precondition: `path` lies under `root` (lexically; links are not followed).
    Raises InvalidDicomError for non-DICOM files.
    """
    # defer_size keeps large values unread: the deferred Pixel Data element records where
    # its value starts (value_tell), which is all WADO-RS frames needs (a seek and a read).
    header = pydicom.dcmread(path, defer_size=1024)
    pixel = header.get_item(0x7FE00010, keep_deferred=True)
    offset = length = None
    if pixel is not None:
        offset = getattr(pixel, "value_tell", None)
        raw_length = getattr(pixel, "length", None)
        length = -1 if raw_length in (None, 0xFFFFFFFF) else int(raw_length)
        if offset is None:  # read in full (small); fall back to scanning on each request
            length = None
        del header[0x7FE00010]
    return InstanceFacts(
        header=header,
        relative_path=Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix(),
        file_size=path.stat().st_size,
        pixel_data_offset=offset,
        pixel_data_length=length,
    )


def _text(ds: Dataset, keyword: str, limit: int) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue):
        value = "\\".join(str(v) for v in value)
    return str(value).strip()[:limit]


def _integer(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _date(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value.strip()[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _study_fields(ds: Dataset, *, origin: str, study_defaults: dict | None) -> dict:
    return {
        "patient_name": _text(ds, "PatientName", 324),
        "patient_id": _text(ds, "PatientID", 64),
        "patient_birth_date": _text(ds, "PatientBirthDate", 8),
        "patient_sex": _text(ds, "PatientSex", 16),
        "study_date": _date(_text(ds, "StudyDate", 8)),
        "study_time": _text(ds, "StudyTime", 32),
        "accession_number": _text(ds, "AccessionNumber", 16),
        "study_id": _text(ds, "StudyID", 16),
        "study_description": _text(ds, "StudyDescription", 64),
        "referring_physician_name": _text(ds, "ReferringPhysicianName", 324),
        "origin": origin,
        **(study_defaults or {}),
    }


def _series_fields(ds: Dataset, *, study: Study) -> dict:
    return {
        "study": study,
        "modality": _text(ds, "Modality", 16),
        "series_number": _integer(ds, "SeriesNumber"),
        "series_description": _text(ds, "SeriesDescription", 64),
        "body_part_examined": _text(ds, "BodyPartExamined", 16),
    }


def _instance_fields(facts: InstanceFacts, *, series: Series) -> dict:
    ds = facts.header
    has_pixels = facts.pixel_data_offset is not None or facts.pixel_data_length is not None
    return {
        "series": series,
        "sop_class_uid": str(ds.SOPClassUID),
        "instance_number": _integer(ds, "InstanceNumber"),
        "transfer_syntax_uid": str(ds.file_meta.TransferSyntaxUID),
        "rows": _integer(ds, "Rows"),
        "columns": _integer(ds, "Columns"),
        "number_of_frames": (_integer(ds, "NumberOfFrames") or 1) if has_pixels else 0,
        "declares_number_of_frames": _integer(ds, "NumberOfFrames") is not None,
        "samples_per_pixel": _integer(ds, "SamplesPerPixel"),
        "bits_allocated": _integer(ds, "BitsAllocated"),
        "photometric_interpretation": _text(ds, "PhotometricInterpretation", 16),
        "file_path": facts.relative_path,
        "file_size": facts.file_size,
        "pixel_data_offset": facts.pixel_data_offset,
        "pixel_data_length": facts.pixel_data_length,
        "burned_in_annotation_reasons": burned_in_annotation_risk(ds),
    }


def instance_index(
    *,
    facts: InstanceFacts,
    origin: str,
    study_defaults: dict | None = None,
) -> Instance:
    """Create or update the Study, Series and Instance rows describing one file.

    Idempotent: indexing the same file twice leaves the same rows. Study counts are not
    refreshed here; call `study_counts_refresh` once after a batch.
    """
    ds = facts.header
    study, _ = Study.objects.update_or_create(
        study_instance_uid=str(ds.StudyInstanceUID),
        defaults=_study_fields(ds, origin=origin, study_defaults=study_defaults),
    )
    series, _ = Series.objects.update_or_create(
        series_instance_uid=str(ds.SeriesInstanceUID),
        defaults=_series_fields(ds, study=study),
    )
    instance, _ = Instance.objects.update_or_create(
        sop_instance_uid=str(ds.SOPInstanceUID),
        defaults=_instance_fields(facts, series=series),
    )
    return instance


# Rows per INSERT ... ON CONFLICT statement when a directory is indexed at once.
INDEX_BATCH_SIZE = 500


def instances_index(
    *,
    facts_list: list[InstanceFacts],
    origin: str,
    study_defaults: dict | None = None,
) -> list[str]:
    """`instance_index` for many files at once, with the same rows as a result: each study
    and series is written once (from the last of its files, as one file after another
    would leave it) and the instances in batched upserts, not three round trips per file.
    A library study of a few hundred slices is indexed in tens of queries instead of
    thousands. Returns the SOP Instance UIDs indexed."""
    last_by_study: dict[str, InstanceFacts] = {}
    last_by_series: dict[str, InstanceFacts] = {}
    last_by_instance: dict[str, InstanceFacts] = {}
    for facts in facts_list:
        ds = facts.header
        last_by_study[str(ds.StudyInstanceUID)] = facts
        last_by_series[str(ds.SeriesInstanceUID)] = facts
        last_by_instance[str(ds.SOPInstanceUID)] = facts
    studies = {
        uid: Study.objects.update_or_create(
            study_instance_uid=uid,
            defaults=_study_fields(facts.header, origin=origin, study_defaults=study_defaults),
        )[0]
        for uid, facts in last_by_study.items()
    }
    series_by_uid = {
        uid: Series.objects.update_or_create(
            series_instance_uid=uid,
            defaults=_series_fields(
                facts.header, study=studies[str(facts.header.StudyInstanceUID)]
            ),
        )[0]
        for uid, facts in last_by_series.items()
    }
    fields_by_uid = {
        uid: _instance_fields(facts, series=series_by_uid[str(facts.header.SeriesInstanceUID)])
        for uid, facts in last_by_instance.items()
    }
    if fields_by_uid:
        Instance.objects.bulk_create(
            [Instance(sop_instance_uid=uid, **fields) for uid, fields in fields_by_uid.items()],
            batch_size=INDEX_BATCH_SIZE,
            update_conflicts=True,
            unique_fields=["sop_instance_uid"],
            update_fields=list(next(iter(fields_by_uid.values()))),
        )
    return list(fields_by_uid)


def study_counts_refresh(*, study: Study) -> Study:
    """Recompute the study's and its series' counts and ModalitiesInStudy from the rows;
    remove series left without instances."""
    study.series.filter(instances__isnull=True).delete()
    for series in study.series.all():
        series.number_of_instances = series.instances.count()
        series.save(update_fields=["number_of_instances"])
    modalities = sorted({m for m in study.series.values_list("modality", flat=True) if m})
    study.modalities_in_study = "\\".join(modalities)
    study.number_of_series = study.series.count()
    study.number_of_instances = Instance.objects.filter(series__study=study).count()
    reasons = sorted(
        {
            reason
            for reasons in Instance.objects.filter(series__study=study).values_list(
                "burned_in_annotation_reasons", flat=True
            )
            for reason in reasons or []
        }
    )
    study.quarantine_reasons = sorted(set(study.quarantine_reasons or []) | set(reasons))
    study.is_quarantined = bool(study.quarantine_reasons) and study.quarantine_released_at is None
    study.save()
    return study


def library_file_publish(*, path: Path, root: Path) -> None:
    """Store a library file written under `root` in the object store, where the library
    lives there (runs.files); nothing to do where the local library is the library."""
    if library_is_local():
        return
    relative = Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    publish(path, f"{LIBRARY_STORAGE_PREFIX}/{relative}")


def study_index_from_files(*, study_dir: Path, root: Path | None = None) -> Study:
    """Index one library study directory (manifest.json + DICOM files) exactly.

    Idempotent; rows of instances whose files are gone are removed, so the index equals
    the files afterwards. The manifest supplies key, title, source, licence and the
    de-identification report; burned-in annotation (from the manifest's review status or
    any instance) quarantines the study. Raises ValueError if the directory holds no
    readable manifest or more than one study.
    """
    root = root or library_root()
    manifest = study_manifest_read(study_dir=study_dir)
    if manifest is None:
        raise ValueError(f"{study_dir} has no readable manifest.json")
    source = "; ".join(
        f"{s.package} {s.version} ({s.registry}): {s.path}" for s in manifest.sources
    )
    report = json.loads(json.dumps(manifest.deidentification.__dict__))
    quarantine = (
        list(manifest.deidentification.review_reasons)
        if manifest.deidentification.review_status == REVIEW_STATUS_QUARANTINE
        else []
    )
    paths = sorted(study_dir.rglob("*.dcm"))
    facts_list = []
    for path in paths:
        facts = instance_facts_read(path=path, root=root)
        if str(facts.header.StudyInstanceUID) != manifest.study_instance_uid:
            raise ValueError(f"{path} belongs to another study than its manifest says")
        facts_list.append(facts)
    with transaction.atomic():
        seen = instances_index(
            facts_list=facts_list,
            origin=StudyOrigin.LIBRARY,
            study_defaults={
                "key": manifest.key,
                "title": manifest.title,
                "source": source,
                "licence": manifest.licence,
                "deidentification_report": report,
                "quarantine_reasons": quarantine,
            },
        )
        for path in paths:
            library_file_publish(path=path, root=root)
        library_file_publish(path=study_dir / "manifest.json", root=root)
        study = Study.objects.get(study_instance_uid=manifest.study_instance_uid)
        Instance.objects.filter(series__study=study).exclude(sop_instance_uid__in=seen).delete()
        return study_counts_refresh(study=study)


def uploaded_study_index_from_files(*, study_dir: Path, root: Path | None = None) -> Study:
    """Re-index one uploaded study directory (uploads/<StudyInstanceUID>/...) exactly."""
    root = root or library_root()
    sidecar = study_dir / UPLOAD_REPORT_FILE_NAME
    extra = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    paths = sorted(study_dir.rglob("*.dcm"))
    if not paths:
        raise ValueError(f"{study_dir} holds no DICOM files")
    facts_list = [instance_facts_read(path=path, root=root) for path in paths]
    with transaction.atomic():
        seen = instances_index(
            facts_list=facts_list,
            origin=extra.get("origin", StudyOrigin.STOW),
            study_defaults={
                "source": extra.get("source", ""),
                "deidentification_report": extra.get("report", {}),
            },
        )
        for path in paths:
            library_file_publish(path=path, root=root)
        # The study of the last file, as indexing one file after another left it.
        study = Study.objects.get(study_instance_uid=str(facts_list[-1].header.StudyInstanceUID))
        if sidecar.is_file():
            library_file_publish(path=sidecar, root=root)
        Instance.objects.filter(series__study=study).exclude(sop_instance_uid__in=seen).delete()
        return study_counts_refresh(study=study)


def library_index_rebuild(*, root: Path | None = None) -> list[Study]:
    """Index every study under the library root (library builds and uploads); idempotent.

    Studies whose directories are gone are removed from the index (the files are the
    truth), where the local library is the library. With an object store the local root is
    one host's cache, which need not hold every study: nothing is removed then, and what is
    found is published (a build on one host adds its studies for all). Returns the indexed
    studies.
    """
    root = root or library_root()
    studies: list[Study] = []
    if root.is_dir():
        for study_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            if study_dir.name.startswith("."):
                continue  # the builder's staging and retired directories
            if study_dir.name == UPLOADS_DIR_NAME:
                for upload_dir in sorted(p for p in study_dir.iterdir() if p.is_dir()):
                    studies.append(uploaded_study_index_from_files(study_dir=upload_dir, root=root))
            elif (study_dir / "manifest.json").is_file():
                studies.append(study_index_from_files(study_dir=study_dir, root=root))
    if library_is_local():
        Study.objects.exclude(pk__in=[s.pk for s in studies]).delete()
    return studies


def study_quarantine_release(*, study: Study, user) -> Study:
    """Publish a quarantined study after a person checked its pixels for burned-in text.

    Precondition: the caller checked the rule "studies.change_courses". The
    reasons stay recorded; re-indexing keeps the release (the row keeps who and when).
    """
    study.quarantine_released_by = user
    study.quarantine_released_at = timezone.now()
    study.is_quarantined = False
    study.save(update_fields=["quarantine_released_by", "quarantine_released_at", "is_quarantined"])
    return study


def study_courses_set(*, study: Study, courses: Iterable) -> Study:
    """Make the study visible to exactly these courses (Curriculum pages)."""
    from studies.models import course_page_model

    pages = list(courses)
    wrong = [p for p in pages if not isinstance(p.specific, course_page_model())]
    if wrong:
        raise ValueError(f"Only Curriculum pages can see studies, not {wrong}")
    study.courses.set(pages)
    return study


def study_course_add(*, study: Study, course) -> Study:
    """Make the study visible to one more course, keeping the courses it already has."""
    return study_courses_set(study=study, courses=[*study.courses.all(), course])


# --- Storing uploaded instances (STOW-RS, PACS import) ---------------------------------------


@dataclass(frozen=True)
class StoredInstance:
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    quarantined: bool


@dataclass(frozen=True)
class FailedInstance:
    sop_class_uid: str
    sop_instance_uid: str
    failure_reason: int
    message: str


@dataclass
class StoreOutcome:
    stored: list[StoredInstance] = field(default_factory=list)
    failed: list[FailedInstance] = field(default_factory=list)


class InstanceRejected(ValueError):
    def __init__(self, reason: int, message: str, ds: Dataset | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.sop_class_uid = self.sop_instance_uid = ""
        try:
            if ds is not None:
                self.sop_class_uid = str(ds.get("SOPClassUID", ""))
                self.sop_instance_uid = str(ds.get("SOPInstanceUID", ""))
        except Exception:  # noqa: S110 (a malformed UID is reported as absent)
            pass


def _secret_digest(*parts: str) -> bytes:
    key = deid_secret().encode()
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).digest()


def upload_uid_map(*, original_study_instance_uid: str) -> UidMap:
    """The UID map for an uploaded study: the same for every upload of that study, so that
    instances sent in several requests keep referencing each other, and derived from the
    site's secret so that nobody can confirm a guessed original UID (see UidMap)."""
    digest = _secret_digest("stow-uids", original_study_instance_uid).hex()
    return UidMap(namespace=f"artefact-upload/{digest}")


def upload_date_offset_days(*, original_study_instance_uid: str) -> int:
    """Days every date of an uploaded study moves by: between 1 and 10 years back, the same
    for the whole study (PS3.15 E.3.6, Modified Dates), secret-derived."""
    digest = _secret_digest("stow-dates", original_study_instance_uid)
    return -(365 + int.from_bytes(digest[:4], "big") % (9 * 365))


def instance_parse_and_check(*, data: bytes) -> Dataset:
    """Parse a DICOM Part 10 instance and check it is complete enough to store.

    Raises InstanceRejected with the STOW-RS FailureReason for non-DICOM bodies, truncated
    files, missing or malformed UIDs and unsupported transfer syntaxes.
    """
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except InvalidDicomError:
        raise InstanceRejected(
            FAILURE_CANNOT_UNDERSTAND,
            "Not a DICOM Part 10 instance (no 'DICM' prefix and File Meta Information).",
        ) from None
    except Exception as exc:  # pydicom raises many kinds on garbage
        raise InstanceRejected(
            FAILURE_CANNOT_UNDERSTAND, f"The instance cannot be parsed: {exc}"
        ) from None
    try:
        _parsed_instance_check(ds=ds, data=data)
    except InstanceRejected:
        raise
    except Exception as exc:
        # pydicom converts values lazily, so a malformed value (an unknown VR, a length
        # that lies) surfaces on first access: this instance is refused, not the request.
        raise InstanceRejected(
            FAILURE_CANNOT_UNDERSTAND, f"The instance cannot be parsed: {str(exc)[:200]}"
        ) from None
    return ds


def _parsed_instance_check(*, ds: Dataset, data: bytes) -> None:
    """The checks of instance_parse_and_check on the freshly read data set."""
    _truncation_check(ds=ds, size=len(data))
    for keyword in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        value = str(ds.get(keyword, "") or "")
        if not UID_PATTERN.fullmatch(value):
            raise InstanceRejected(
                FAILURE_CANNOT_UNDERSTAND, f"{keyword} is missing or not a valid UID.", ds
            )
    syntax = str(getattr(ds, "file_meta", Dataset()).get("TransferSyntaxUID", ""))
    if syntax not in _SUPPORTED_TRANSFER_SYNTAXES:
        raise InstanceRejected(
            FAILURE_TRANSFER_SYNTAX_NOT_SUPPORTED, f"Transfer syntax {syntax!r} not supported.", ds
        )
    _sequence_depth_check(ds)
    if "PixelData" in ds:
        declared = _declared_pixels_within_budget(ds)
        try:
            if UID(syntax).is_compressed:
                # Walk every fragment: a cut bitstream fails here, not when a viewer asks.
                for _fragment in pydicom.encaps.generate_fragments(ds.PixelData):
                    pass
                _compressed_frames_check(ds, data=data, syntax=syntax, declared=declared)
            else:
                expected = _native_pixel_bytes(ds)
                if expected and len(ds.PixelData) < expected:
                    raise InstanceRejected(
                        FAILURE_CANNOT_UNDERSTAND,
                        f"Pixel Data holds {len(ds.PixelData)} bytes, {expected} expected: "
                        "the file is truncated.",
                        ds,
                    )
        except InstanceRejected:
            raise
        except Exception as exc:
            raise InstanceRejected(
                FAILURE_CANNOT_UNDERSTAND, f"Pixel Data cannot be read: {exc}", ds
            ) from None
    elif ds.get("Rows") is not None:
        raise InstanceRejected(
            FAILURE_CANNOT_UNDERSTAND, "An image without Pixel Data: the file is truncated.", ds
        )


def _sequence_depth_check(ds: Dataset) -> None:
    """Refuse sequences nested deeper than SEQUENCE_MAX_DEPTH (walked without recursion):
    de-identification, DICOM JSON and pydicom itself recurse once per level."""
    pending = [(ds, 0)]
    while pending:
        dataset, depth = pending.pop()
        for tag in list(dataset.keys()):
            element = dataset[tag]
            if element.VR != "SQ":
                continue
            if depth + 1 > SEQUENCE_MAX_DEPTH:
                raise InstanceRejected(
                    FAILURE_CANNOT_UNDERSTAND,
                    f"Sequences are nested more than {SEQUENCE_MAX_DEPTH} levels deep.",
                    ds,
                )
            pending.extend((item, depth + 1) for item in element.value)


def _declared_pixels_within_budget(ds: Dataset) -> DeclaredPixels:
    """The header's image size, refused (before any decoding) past the pixel budget."""
    try:
        declared = declared_pixels(ds)
        pixel_budget_check(declared)
    except PixelBudgetExceeded as exc:
        raise InstanceRejected(FAILURE_OUT_OF_RESOURCES, f"Refused: {exc}", ds) from None
    except (TypeError, ValueError) as exc:
        raise InstanceRejected(
            FAILURE_CANNOT_UNDERSTAND, f"The image size cannot be read: {exc}.", ds
        ) from None
    return declared


def _compressed_frames_check(
    ds: Dataset, *, data: bytes, syntax: str, declared: DeclaredPixels
) -> None:
    """Each JPEG frame is a JPEG bitstream no larger than the header says, and the first
    frame decodes (when this site has a decoder for the syntax): an instance a viewer
    cannot show is refused now, with its reason, rather than failing on every view."""
    if syntax in JPEG_SYNTAXES:
        frames = pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=declared.frames)
        for number, frame in enumerate(frames, start=1):
            try:
                jpeg_frame_check(frame, declared)
            except (NotAJpegBitstream, PixelBudgetExceeded) as exc:
                raise InstanceRejected(
                    FAILURE_CANNOT_UNDERSTAND, f"Frame {number}: {exc}.", ds
                ) from None
    if get_decoder(syntax).is_available:
        try:
            pixel_array(io.BytesIO(data), index=0)
        except Exception as exc:
            raise InstanceRejected(
                FAILURE_CANNOT_UNDERSTAND,
                f"Frame 1 cannot be decoded as {UID(syntax).name}: {str(exc)[:200]}",
                ds,
            ) from None


def _native_pixel_bytes(ds: Dataset) -> int:
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    bits = int(ds.get("BitsAllocated", 8) or 8)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return (rows * columns * samples * frames * bits + 7) // 8


def _truncation_check(*, ds: Dataset, size: int) -> None:
    """pydicom reads a truncated file without complaint, handing back short values: refuse
    a data set that is empty or whose last element claims more bytes than the body holds.

    Precondition: `ds` was just read and no element was accessed yet (elements are still
    raw and know where their value starts).
    """
    if not len(ds):
        raise InstanceRejected(FAILURE_CANNOT_UNDERSTAND, "The instance holds no data set.")
    # Iterating ds itself would convert the raw elements and lose where their values start.
    for tag in list(ds.keys()):
        raw = ds.get_item(tag, keep_deferred=True)
        value_tell = getattr(raw, "value_tell", None)
        length = getattr(raw, "length", None)
        if value_tell is None or length in (None, 0xFFFFFFFF):
            continue
        if value_tell + length > size:
            raise InstanceRejected(
                FAILURE_CANNOT_UNDERSTAND,
                f"The instance is truncated: element {tag} needs {length} bytes at offset "
                f"{value_tell}, the body has {size}.",
            )


def _upload_path(*, root: Path, ds: Dataset) -> Path:
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        # UIDs become path components: only a strict UID may (no "..", no "/").
        if not UID_PATTERN.fullmatch(str(ds.get(keyword, ""))):
            raise InstanceRejected(FAILURE_PROCESSING, f"{keyword} is not a valid UID.", ds)
    return (
        root
        / UPLOADS_DIR_NAME
        / str(ds.StudyInstanceUID)
        / str(ds.SeriesInstanceUID)
        / f"{ds.SOPInstanceUID}.dcm"
    )


def _file_write_atomic(*, ds: Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".dcm")
    try:
        with os.fdopen(handle, "wb") as stream:
            ds.save_as(stream, enforce_file_format=True)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _report_union(old: dict, report: DeidentificationReport) -> dict:
    merged = {key: set(old.get(key, [])) for key in old if isinstance(old.get(key), list)}
    for outcome in ("removed", "emptied", "replaced", "uid_replaced", "date_shifted", "kept"):
        merged.setdefault(outcome, set()).update(report.keywords_with(outcome))
    result = {key: sorted(values) for key, values in merged.items()}
    result["date_offset_days"] = report.date_offset_days
    result["method"] = "PS3.15 Annex E Basic Application Level Confidentiality Profile"
    return result


def study_store_uploaded(
    *,
    files: Iterable[bytes],
    user,
    deidentify: bool = True,
    required_study_instance_uid: str | None = None,
    origin: str = StudyOrigin.STOW,
    source: str = "",
    root: Path | None = None,
) -> StoreOutcome:
    """Validate, de-identify, store and index each instance; report each one's fate.

    Precondition: the caller checked the user may store studies (and, for
    deidentify=False, the rule "studies.store_without_deidentification").
    Each instance is stored whole or not at all: its file is written atomically, and the
    file is removed again if indexing fails. De-identification (PS3.15 Annex E Basic
    Profile, Modified Dates option) uses one secret-derived UID map and date shift per
    original study, so instances uploaded separately still form one study. Instances with
    possible burned-in annotation are stored but their study is quarantined.
    `required_study_instance_uid` (STOW-RS to /studies/{study}) refuses instances of other
    studies (FailureReason A900), comparing the original and the de-identified UID.
    """
    root = root or library_root()
    outcome = StoreOutcome()
    touched: dict[str, Study] = {}
    for data in files:
        try:
            stored = _instance_store(
                data=data,
                user=user,
                deidentify=deidentify,
                required_study_instance_uid=required_study_instance_uid,
                origin=origin,
                source=source,
                root=root,
            )
        except InstanceRejected as rejected:
            outcome.failed.append(
                FailedInstance(
                    sop_class_uid=rejected.sop_class_uid,
                    sop_instance_uid=rejected.sop_instance_uid,
                    failure_reason=rejected.reason,
                    message=str(rejected),
                )
            )
            continue
        except Exception:
            # Last line: whatever a malformed instance breaks fails that instance only
            # (each is written and indexed whole or not at all, see _instance_store).
            logger.exception("storing an uploaded instance failed")
            outcome.failed.append(
                FailedInstance(
                    sop_class_uid="",
                    sop_instance_uid="",
                    failure_reason=FAILURE_PROCESSING,
                    message="The instance could not be processed; the error is logged.",
                )
            )
            continue
        outcome.stored.append(stored[0])
        touched[stored[1].study_instance_uid] = stored[1]
    for study in touched.values():
        study_counts_refresh(study=study)
    return outcome


def _instance_store(
    *,
    data: bytes,
    user,
    deidentify: bool,
    required_study_instance_uid: str | None,
    origin: str,
    source: str,
    root: Path,
) -> tuple[StoredInstance, Study]:
    ds = instance_parse_and_check(data=data)
    original_study_uid = str(ds.StudyInstanceUID)
    report = DeidentificationReport(burned_in_annotation_reasons=burned_in_annotation_risk(ds))
    if deidentify:
        uid_map = upload_uid_map(original_study_instance_uid=original_study_uid)
        try:
            report = dataset_deidentify(
                ds,
                uid_map=uid_map,
                date_offset_days=upload_date_offset_days(
                    original_study_instance_uid=original_study_uid
                ),
            )
        except Exception:
            # Malformed values a parser let through (fuzzed lengths, wrong VRs): this
            # instance fails with a reason, the others of the request are still stored.
            logger.exception("de-identifying an uploaded instance failed")
            raise InstanceRejected(
                FAILURE_CANNOT_UNDERSTAND,
                "The instance holds values that cannot be de-identified (malformed data).",
                ds,
            ) from None
    if required_study_instance_uid and required_study_instance_uid not in {
        original_study_uid,
        str(ds.StudyInstanceUID),
    }:
        raise InstanceRejected(
            FAILURE_DATA_SET_MISMATCH,
            "The instance belongs to another study than the one in the request URL.",
            ds,
        )
    path = _upload_path(root=root, ds=ds)
    existed = path.exists()
    try:
        _file_write_atomic(ds=ds, path=path)
    except OSError as exc:
        raise InstanceRejected(FAILURE_OUT_OF_RESOURCES, f"Cannot store: {exc}", ds) from None
    except Exception:
        logger.exception("writing an uploaded instance failed")
        raise InstanceRejected(
            FAILURE_CANNOT_UNDERSTAND,
            "The instance holds values that cannot be written as DICOM (malformed data).",
            ds,
        ) from None
    try:
        with transaction.atomic():
            instance = instance_index(
                facts=instance_facts_read(path=path, root=root),
                origin=origin,
                study_defaults={"source": source, "uploaded_by": user},
            )
            study = instance.series.study
            study.deidentification_report = _report_union(study.deidentification_report, report)
            study.save(update_fields=["deidentification_report"])
            _upload_sidecar_write(study=study, path=path.parents[1], origin=origin, source=source)
            # Inside the transaction: an instance the object store refused is not indexed.
            library_file_publish(path=path, root=root)
            library_file_publish(path=path.parents[1] / UPLOAD_REPORT_FILE_NAME, root=root)
    except Exception:
        if not existed:
            path.unlink(missing_ok=True)
        logger.exception("indexing %s failed", path)
        raise InstanceRejected(
            FAILURE_PROCESSING, "The instance could not be indexed.", ds
        ) from None
    return (
        StoredInstance(
            sop_class_uid=str(ds.SOPClassUID),
            sop_instance_uid=str(ds.SOPInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            quarantined=report.needs_review,
        ),
        study,
    )


def _upload_sidecar_write(*, study: Study, path: Path, origin: str, source: str) -> None:
    """Keep what only the rows knew (report, origin, source) next to the files, so that a
    rebuilt index is the same index."""
    payload = {"origin": origin, "source": source, "report": study.deidentification_report}
    (path / UPLOAD_REPORT_FILE_NAME).write_text(json.dumps(payload, indent=1, sort_keys=True))


# --- Import from a remote DICOMweb server (PACS) -----------------------------------------------


def study_import_from_remote(
    *, remote, study_instance_uid: str, user, root: Path | None = None
) -> StoreOutcome:
    """Retrieve a study from a remote DICOMweb server (WADO-RS, series by series, one
    instance at a time) and store it like an upload: validated, de-identified (PS3.15
    Basic Profile), indexed, quarantined when burned-in annotation is suspected.

    Precondition: the caller checked the rule "studies.store" and that
    `remote` is one of studies.selectors.import_remotes(). Raises ValueError for a
    malformed UID; network errors from the remote propagate (requests exceptions).
    """
    from studies.selectors import remote_client

    if not UID_PATTERN.fullmatch(study_instance_uid):
        raise ValueError(f"{study_instance_uid!r} is not a valid UID")
    client = remote_client(remote=remote)

    def files():
        for series in client.search_for_series(study_instance_uid):
            series_uid = pydicom.Dataset.from_json(series).SeriesInstanceUID
            for ds in client.iter_series(study_instance_uid, series_uid):
                buffer = io.BytesIO()
                ds.save_as(buffer, enforce_file_format=True)
                yield buffer.getvalue()

    return study_store_uploaded(
        files=files(),
        user=user,
        origin=StudyOrigin.IMPORT,
        source=f"Imported from {remote.title} ({remote.url}), study {study_instance_uid}",
        root=root,
    )
