"""Reads from the study library and its index.

- `study_series_load` / `sample_study_choices`: labs load a study's pixels by key.
- `studies_search`, `series_search`, `instances_search`: QIDO-RS matching over the index
  (PS3.18 §8.3.4 and PS3.4 §C.2.2.2), restricted to what the user may see.
- `study_locate`, `series_locate`, `instance_locate`: WADO-RS targets, 404 when unseen.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from pydicom.data import get_testdata_file

# PS3.5 §9.1: components of digits without leading zeros, dot-separated, at most 64 chars.
# Strict on purpose: UIDs become file paths and URLs (no "..", "/", "%", spaces).
UID_PATTERN = re.compile(r"(?=.{1,64}$)(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")


def library_root() -> Path:
    """Where library studies and uploads live: settings.STUDY_LIBRARY_ROOT, by default
    MEDIA_ROOT/library. Index rows store paths relative to it."""
    configured = getattr(settings, "STUDY_LIBRARY_ROOT", None)
    return Path(configured) if configured else Path(settings.MEDIA_ROOT) / "library"


class StudyNotFound(LookupError):
    pass


@dataclass(frozen=True)
class SampleStudy:
    key: str
    title: str
    modality: str
    source: str
    licence: str
    locate: Callable[[], list[Path]]


@dataclass(frozen=True)
class LoadedSeries:
    """A series as a stack of slices in physical units (HU for CT), top slice first."""

    study_key: str
    modality: str
    pixels: np.ndarray  # float32, shape (slices, rows, columns)
    pixel_spacing_mm: tuple[float, float]
    description: str


def _pydicom_test_file(name: str) -> Callable[[], list[Path]]:
    return lambda: [Path(get_testdata_file(name))]


SAMPLE_STUDIES = {
    study.key: study
    for study in (
        SampleStudy(
            key="ct-small",
            title="Axial CT slice, 128 x 128 (pydicom CT_small)",
            modality="CT",
            source="pydicom 3.0.2, pydicom/data/test_files/CT_small.dcm",
            licence="MIT",
            locate=_pydicom_test_file("CT_small.dcm"),
        ),
        SampleStudy(
            key="mr-small-sample",
            title="Axial MR slice, 64 x 64 (pydicom MR_small)",
            modality="MR",
            source="pydicom 3.0.2, pydicom/data/test_files/MR_small.dcm",
            licence="MIT",
            locate=_pydicom_test_file("MR_small.dcm"),
        ),
    )
}
# The sample each modality's uploaded models are validated on (labs.services).
VALIDATION_SAMPLE_BY_MODALITY = {"CT": "ct-small", "MR": "mr-small-sample"}


def sample_study_choices() -> list[tuple[str, str]]:
    return [(study.key, study.title) for study in SAMPLE_STUDIES.values()]


def _indexed_study_files(study_key: str) -> tuple[list[Path], str] | None:
    """Files of the first image series of the indexed library study with this key."""
    from studies.models import Instance, Series

    series = (
        Series.objects.filter(study__key=study_key, instances__rows__isnull=False)
        .exclude(modality__in=["SEG", "SR", "RTSTRUCT", "PR", "KO"])
        .select_related("study")
        .order_by("series_number")
        .first()
    )
    if series is None:
        return None
    root = library_root()
    paths = [
        root / p for p in Instance.objects.filter(series=series).values_list("file_path", flat=True)
    ]
    return paths, series.study.title or series.study.study_description


def study_series_load(*, study_key: str) -> LoadedSeries:
    """Read the study's first series and return modality units (rescale applied).

    The built-in sample studies come first; any other key is looked up among the indexed
    library studies (studies.models.Study.key). Raises StudyNotFound for an unknown key,
    so callers can tell residents clearly.
    """
    study = SAMPLE_STUDIES.get(study_key)
    if study is not None:
        paths, title = study.locate(), study.title
    else:
        found = _indexed_study_files(study_key)
        if found is None:
            raise StudyNotFound(f"No study {study_key!r} in the library.")
        paths, title = found
    datasets = [pydicom.dcmread(path) for path in paths]
    datasets.sort(key=lambda ds: int(ds.get("InstanceNumber", 0)))
    slices = []
    for ds in datasets:
        # PS3.3 C.11.1.1.2: stored values become modality units through slope/intercept.
        slope = float(ds.get("RescaleSlope", 1.0))
        intercept = float(ds.get("RescaleIntercept", 0.0))
        slices.append(ds.pixel_array.astype(np.float32) * slope + intercept)
    first = datasets[0]
    spacing = tuple(float(v) for v in first.get("PixelSpacing", (1.0, 1.0)))
    return LoadedSeries(
        study_key=study_key,
        modality=str(first.get("Modality", "")),
        pixels=np.stack(slices),
        pixel_spacing_mm=(spacing[0], spacing[1]),
        description=title,
    )


# --- QIDO-RS matching (PS3.18 §8.3.4, PS3.4 §C.2.2.2) ---------------------------------------


class UnsupportedMatch(ValueError):
    """A query key or value the server cannot match on (answered 400 by the views)."""


@dataclass(frozen=True)
class MatchField:
    field: str  # ORM lookup path from the level's model
    kind: str  # "uid", "text", "pn", "date", "int", "modality"


_STUDY_FIELDS = {
    "StudyInstanceUID": MatchField("study_instance_uid", "uid"),
    "PatientName": MatchField("patient_name", "pn"),
    "PatientID": MatchField("patient_id", "text"),
    "PatientBirthDate": MatchField("patient_birth_date", "text"),
    "PatientSex": MatchField("patient_sex", "text"),
    "AccessionNumber": MatchField("accession_number", "text"),
    "StudyDate": MatchField("study_date", "date"),
    "StudyID": MatchField("study_id", "text"),
    "StudyDescription": MatchField("study_description", "text"),
    "ReferringPhysicianName": MatchField("referring_physician_name", "pn"),
    "ModalitiesInStudy": MatchField("series__modality", "modality"),
}
_SERIES_FIELDS = {
    "SeriesInstanceUID": MatchField("series_instance_uid", "uid"),
    "Modality": MatchField("modality", "text"),
    "SeriesNumber": MatchField("series_number", "int"),
    "SeriesDescription": MatchField("series_description", "text"),
}
_INSTANCE_FIELDS = {
    "SOPInstanceUID": MatchField("sop_instance_uid", "uid"),
    "SOPClassUID": MatchField("sop_class_uid", "uid"),
    "InstanceNumber": MatchField("instance_number", "int"),
}


def _prefixed(fields: dict[str, MatchField], prefix: str) -> dict[str, MatchField]:
    return {k: MatchField(f"{prefix}{m.field}", m.kind) for k, m in fields.items()}


STUDY_MATCH_FIELDS = _STUDY_FIELDS
SERIES_MATCH_FIELDS = {**_prefixed(_STUDY_FIELDS, "study__"), **_SERIES_FIELDS}
INSTANCE_MATCH_FIELDS = {
    **_prefixed(_STUDY_FIELDS, "series__study__"),
    **_prefixed(_SERIES_FIELDS, "series__"),
    **_INSTANCE_FIELDS,
}


def _wildcard_regex(value: str) -> str:
    """PS3.4 §C.2.2.2.4: '*' matches any run of characters, '?' exactly one."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)


def _date_bound(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text.strip().replace("-", ""), "%Y%m%d").date()
    except ValueError:
        raise UnsupportedMatch(f"{text!r} is not a date (YYYYMMDD).") from None


def _match_q(match: MatchField, value: str, *, fuzzy: bool) -> Q:
    """One attribute's condition. Empty and '*' are universal matching (§C.2.2.2.3)."""
    value = value.strip()
    if value in ("", "*"):
        return Q()
    if match.kind == "uid":
        # §C.2.2.2.2 List of UID matching; PS3.18 §8.3.4.1 allows commas as well.
        uids = [u for u in re.split(r"[\\,]", value) if u]
        if not all(UID_PATTERN.fullmatch(u) for u in uids):
            raise UnsupportedMatch(f"{value!r} is not a UID or list of UIDs.")
        return Q(**{f"{match.field}__in": uids})
    if match.kind == "date":
        # §C.2.2.2.5 Range matching: "a-b", "a-", "-b", or a single date.
        if "-" in value:
            low, _, high = value.partition("-")
            q = Q()
            if low:
                q &= Q(**{f"{match.field}__gte": _date_bound(low)})
            if high:
                q &= Q(**{f"{match.field}__lte": _date_bound(high)})
            return q
        return Q(**{match.field: _date_bound(value)})
    if match.kind == "int":
        try:
            return Q(**{match.field: int(value)})
        except ValueError:
            raise UnsupportedMatch(f"{value!r} is not an integer.") from None
    if match.kind == "modality":
        return Q(**{f"{match.field}__in": [m for m in re.split(r"[\\,]", value) if m]})
    if match.kind == "pn":
        # Person names match case-insensitively (as Orthanc does by default). Fuzzy
        # matching (PS3.18 §8.3.4.1) matches the term at the start of any name component.
        pattern = _wildcard_regex(value)
        if fuzzy:
            return Q(**{f"{match.field}__iregex": rf"(^|[\^= ]){pattern}"})
        return Q(**{f"{match.field}__iregex": rf"^{pattern}$"})
    if "*" in value or "?" in value:
        return Q(**{f"{match.field}__regex": rf"^{_wildcard_regex(value)}$"})
    return Q(**{match.field: value})


def matching_filter(*, fields: dict[str, MatchField], matches: dict[str, str], fuzzy: bool) -> Q:
    """The AND of every attribute's condition; raises UnsupportedMatch for unknown keys."""
    q = Q()
    for keyword, value in matches.items():
        match = fields.get(keyword)
        if match is None:
            raise UnsupportedMatch(f"Matching on {keyword} is not supported at this level.")
        q &= _match_q(match, value, fuzzy=fuzzy)
    return q


def _page(queryset: QuerySet, *, limit: int | None, offset: int) -> list:
    queryset = queryset[offset:] if limit is None else queryset[offset : offset + limit]
    return list(queryset)


def studies_search(
    *, user, matches: dict[str, str], fuzzy: bool = False, limit: int | None, offset: int = 0
) -> list:
    """Studies the user may see that match every condition, ordered, paged."""
    from accounts.permissions import studies_visible_filter
    from studies.models import Study

    q = matching_filter(fields=STUDY_MATCH_FIELDS, matches=matches, fuzzy=fuzzy)
    ids = Study.objects.filter(q).values("pk")
    queryset = Study.objects.filter(studies_visible_filter(user), pk__in=ids).order_by(
        "study_date", "study_instance_uid"
    )
    return _page(queryset, limit=limit, offset=offset)


def series_search(
    *,
    user,
    study_instance_uid: str | None,
    matches: dict[str, str],
    fuzzy: bool = False,
    limit: int | None,
    offset: int = 0,
) -> list:
    """Series of visible studies (of one study when given) matching every condition."""
    from accounts.permissions import series_withheld_filter, studies_visible_filter
    from studies.models import Series, Study

    if study_instance_uid is not None:
        study_locate(user=user, study_instance_uid=study_instance_uid)
    q = matching_filter(fields=SERIES_MATCH_FIELDS, matches=matches, fuzzy=fuzzy)
    visible = Study.objects.filter(studies_visible_filter(user)).values("pk")
    queryset = (
        Series.objects.filter(q, study__in=visible)
        .exclude(series_withheld_filter(user))
        .select_related("study")
    )
    if study_instance_uid is not None:
        queryset = queryset.filter(study__study_instance_uid=study_instance_uid)
    queryset = queryset.distinct().order_by("study__study_instance_uid", "series_number", "pk")
    return _page(queryset, limit=limit, offset=offset)


def instances_search(
    *,
    user,
    study_instance_uid: str | None,
    series_instance_uid: str | None,
    matches: dict[str, str],
    fuzzy: bool = False,
    limit: int | None,
    offset: int = 0,
) -> list:
    """Instances of visible studies (of one study / series when given) matching every
    condition."""
    from accounts.permissions import series_withheld_filter, studies_visible_filter
    from studies.models import Instance, Series, Study

    if series_instance_uid is not None:
        series_locate(
            user=user,
            study_instance_uid=study_instance_uid or "",
            series_instance_uid=series_instance_uid,
        )
    elif study_instance_uid is not None:
        study_locate(user=user, study_instance_uid=study_instance_uid)
    q = matching_filter(fields=INSTANCE_MATCH_FIELDS, matches=matches, fuzzy=fuzzy)
    visible = Study.objects.filter(studies_visible_filter(user)).values("pk")
    withheld = Series.objects.filter(series_withheld_filter(user)).values("pk")
    queryset = (
        Instance.objects.filter(q, series__study__in=visible)
        .exclude(series__in=withheld)
        .select_related("series__study")
    )
    if study_instance_uid is not None:
        queryset = queryset.filter(series__study__study_instance_uid=study_instance_uid)
    if series_instance_uid is not None:
        queryset = queryset.filter(series__series_instance_uid=series_instance_uid)
    queryset = queryset.distinct().order_by(
        "series__series_number", "series__pk", "instance_number", "pk"
    )
    return _page(queryset, limit=limit, offset=offset)


# --- WADO-RS targets ---------------------------------------------------------------------------


def study_locate(*, user, study_instance_uid: str):
    """The visible study with this UID, else Http404 (unknown and unseen look the same)."""
    from accounts.permissions import access_study_by_uid

    return access_study_by_uid(user, study_instance_uid)


def series_locate(*, user, study_instance_uid: str, series_instance_uid: str):
    from accounts.permissions import series_withheld_filter
    from studies.models import Series

    study = study_locate(user=user, study_instance_uid=study_instance_uid)
    series = (
        Series.objects.filter(study=study, series_instance_uid=series_instance_uid)
        .exclude(series_withheld_filter(user))
        .first()
    )
    if series is None:
        raise Http404("No such series in this study.")
    return series


def series_uids_withheld(*, user, uids) -> set[str]:
    """Which of these series UIDs are withheld from this user now (exam answer keys, for
    residents): pages that name series (the viewer page, lesson viewer blocks) leave them
    out, as DICOMweb does."""
    from accounts.permissions import series_withheld_filter
    from studies.models import Series

    wanted = [uid for uid in uids if uid]
    if not wanted:
        return set()
    return set(
        Series.objects.filter(
            series_withheld_filter(user), series_instance_uid__in=wanted
        ).values_list("series_instance_uid", flat=True)
    )


def series_instances(*, series) -> list:
    """The series' instances in InstanceNumber order."""
    return list(series.instances.order_by("instance_number", "pk"))


def study_instances(*, study, user) -> list:
    """The study's instances this user may retrieve (series withheld during an exam left out)."""
    from accounts.permissions import series_withheld_filter
    from studies.models import Instance, Series

    withheld = Series.objects.filter(series_withheld_filter(user)).values("pk")
    return list(
        Instance.objects.filter(series__study=study)
        .exclude(series__in=withheld)
        .select_related("series")
        .order_by("series__series_number", "series__pk", "instance_number", "pk")
    )


def instance_locate(
    *, user, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str
):
    from studies.models import Instance

    series = series_locate(
        user=user,
        study_instance_uid=study_instance_uid,
        series_instance_uid=series_instance_uid,
    )
    instance = (
        Instance.objects.filter(series=series, sop_instance_uid=sop_instance_uid)
        .select_related("series__study")
        .first()
    )
    if instance is None:
        raise Http404("No such instance in this series.")
    return instance


def instance_file_path(*, instance) -> Path:
    """The instance's file; the stored relative path is re-checked to stay inside the root."""
    # Lexical, not resolved: the stored path may not climb out with "..", but the library
    # root may hold links (hard or symbolic) that an administrator put there.
    root = Path(os.path.abspath(library_root()))
    path = Path(os.path.normpath(root / instance.file_path))
    if root not in path.parents:
        raise Http404("No such instance file.")
    return path


# --- Remote DICOMweb servers (PACS import) -----------------------------------------------------


@dataclass(frozen=True)
class RemoteServer:
    key: str
    title: str
    url: str
    username: str = ""
    password: str = ""


def import_remotes() -> dict[str, RemoteServer]:
    """The remote DICOMweb servers educators may import from: settings.STUDY_IMPORT_REMOTES,
    {key: {"title", "url", "username", "password"}}. Only configured servers: a free-typed
    URL would let the web server be pointed at any internal address."""
    configured = getattr(settings, "STUDY_IMPORT_REMOTES", {}) or {}
    return {
        key: RemoteServer(
            key=key,
            title=str(value.get("title", key)),
            url=str(value["url"]).rstrip("/"),
            username=str(value.get("username", "")),
            password=str(value.get("password", "")),
        )
        for key, value in configured.items()
    }


def remote_client(*, remote: RemoteServer):
    """A dicomweb-client for the remote, with Basic credentials when configured."""
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    if remote.username:
        session.auth = (remote.username, remote.password)
    return DICOMwebClient(url=remote.url, session=session)


@dataclass(frozen=True)
class RemoteStudy:
    study_instance_uid: str
    patient_name: str
    patient_id: str
    study_date: str
    accession_number: str
    modalities: str
    description: str
    instance_count: str


def remote_studies_search(*, remote: RemoteServer, filters: dict[str, str]) -> list[RemoteStudy]:
    """QIDO-RS study search on the remote (empty filter values are left out)."""
    documents = remote_client(remote=remote).search_for_studies(
        search_filters={k: v for k, v in filters.items() if v},
        fields=["StudyDescription"],
    )
    found = []
    for document in documents:
        ds = pydicom.Dataset.from_json(document)
        found.append(
            RemoteStudy(
                study_instance_uid=str(ds.get("StudyInstanceUID", "")),
                patient_name=str(ds.get("PatientName", "")),
                patient_id=str(ds.get("PatientID", "")),
                study_date=str(ds.get("StudyDate", "")),
                accession_number=str(ds.get("AccessionNumber", "")),
                modalities="\\".join(str(m) for m in (ds.get("ModalitiesInStudy") or [])),
                description=str(ds.get("StudyDescription", "")),
                instance_count=str(ds.get("NumberOfStudyRelatedInstances", "")),
            )
        )
    return [s for s in found if UID_PATTERN.fullmatch(s.study_instance_uid)]


def studies_for_management(*, user) -> list:
    """Every study this user may see, for the educators' study list (quarantined first)."""
    from accounts.permissions import studies_visible_filter
    from studies.models import Study

    return list(
        Study.objects.filter(studies_visible_filter(user))
        .prefetch_related("courses")
        .order_by("-is_quarantined", "key", "study_date", "pk")
    )


def course_choices() -> list:
    """The Curriculum pages a study can be made visible to."""
    from curriculum.models import CurriculumPage

    return list(CurriculumPage.objects.order_by("title"))
