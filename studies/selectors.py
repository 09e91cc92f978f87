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
from django.db.models import BooleanField, Case, F, Lookup, Q, QuerySet, Value, When
from django.http import Http404
from pydicom.data import get_testdata_file

from runs.files import StoredFileMissing, cache_path, local_path, storage_is_local
from studies.search_plans import planned_search

# PS3.5 §9.1: components of digits without leading zeros, dot-separated, at most 64 chars.
# Strict on purpose: UIDs become file paths and URLs (no "..", "/", "%", spaces).
UID_PATTERN = re.compile(r"(?=.{1,64}$)(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")


# Library files are the stored objects "library/<file_path>" of the default storage.
LIBRARY_STORAGE_PREFIX = "library"


def library_is_local() -> bool:
    """True where the library's files are this host's own (a configured
    STUDY_LIBRARY_ROOT, or MEDIA_ROOT as the default storage); False where they live in an
    object store and this host holds cached copies."""
    return bool(getattr(settings, "STUDY_LIBRARY_ROOT", None)) or storage_is_local()


def library_root() -> Path:
    """The local folder of library studies and uploads; index rows store paths relative
    to it. settings.STUDY_LIBRARY_ROOT, by default MEDIA_ROOT/library; with an object store,
    the library's part of this host's bounded file cache (runs.files), where builders and
    uploads write before publishing and where readers find their downloaded copies."""
    configured = getattr(settings, "STUDY_LIBRARY_ROOT", None)
    if configured:
        return Path(configured)
    if storage_is_local():
        return Path(settings.MEDIA_ROOT) / LIBRARY_STORAGE_PREFIX
    return cache_path(LIBRARY_STORAGE_PREFIX)


def library_file_local(relative: str, *, size: int | None = None) -> Path:
    """A local path of the library file `relative` (fetched into the cache where needed).

    Raises StudyNotFound when neither the local library nor the object store has it."""
    if library_is_local():
        return library_root() / relative
    try:
        return local_path(f"{LIBRARY_STORAGE_PREFIX}/{relative}", size=size)
    except StoredFileMissing:
        raise StudyNotFound(f"The library file {relative} is missing from storage.") from None


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
    paths = [
        library_file_local(path, size=size)
        for path, size in Instance.objects.filter(series=series).values_list(
            "file_path", "file_size"
        )
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


# PS3.4 §C.2.2.2.4 wildcard matching runs in the database as LIKE / GLOB, never as a
# regular expression: both engines match such patterns in time proportional to pattern x
# value length (SQLite's patternCompare and PostgreSQL's MatchText abandon a failed '*' at
# once instead of backtracking), and the caps below keep even that small. A pattern over a
# cap is refused (400) rather than truncated: a shorter pattern would match other studies.
QIDO_PATTERN_MAX_CHARACTERS = 324  # the longest stored value (PN, studies.models.Study)
QIDO_PATTERN_MAX_STARS = 16
QIDO_LIST_MAX_VALUES = 100  # UIDs or modalities in one list match (PS3.4 §C.2.2.2.2)
_INTEGER_STRING_RANGE = (-(2**31), 2**31 - 1)  # VR IS, PS3.5 Table 6.2-1


class WildcardMatch(Lookup):
    """`field` matches a PS3.4 wildcard pattern: '*' any run of characters, '?' exactly one,
    everything else literally. `case_insensitive` for person names (as Orthanc does).

    SQLite: GLOB (case-sensitive; '*', '?' and '[' escaped as bracket classes) or LIKE with
    ESCAPE '\\' (case-insensitive for ASCII). PostgreSQL and others: LIKE, with UPPER on
    both sides when case-insensitive. Used directly as a filter expression."""

    lookup_name = "dicom_wildcard"  # not registered: built by _wildcard_q
    prepare_rhs = False

    def __init__(self, lhs, pattern: str, *, case_insensitive: bool) -> None:
        self.case_insensitive = case_insensitive
        super().__init__(lhs, pattern)

    def process_rhs(self, compiler, connection):
        glob = connection.vendor == "sqlite" and not self.case_insensitive
        return "%s", [_wildcard_translate(self.rhs, glob=glob)]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "sqlite":
            if self.case_insensitive:
                return f"{lhs} LIKE {rhs} ESCAPE '\\'", [*lhs_params, *rhs_params]
            return f"{lhs} GLOB {rhs}", [*lhs_params, *rhs_params]
        if self.case_insensitive:
            lhs, rhs = f"UPPER({lhs})", f"UPPER({rhs})"
        return f"{lhs} LIKE {rhs} ESCAPE '\\'", [*lhs_params, *rhs_params]


def _wildcard_translate(pattern: str, *, glob: bool) -> str:
    """A PS3.4 wildcard pattern as a GLOB or LIKE pattern, every other character literal."""
    out = []
    for character in pattern:
        if glob:
            # GLOB has no escape character: a literal bracket is a one-character class.
            out.append(f"[{character}]" if character in "[]" else character)
        elif character == "*":
            out.append("%")
        elif character == "?":
            out.append("_")
        elif character in "%_\\":
            out.append("\\" + character)
        else:
            out.append(character)
    return "".join(out)


def _pattern_check(value: str) -> str:
    """The pattern with runs of '*' collapsed, or UnsupportedMatch past the caps."""
    if len(value) > QIDO_PATTERN_MAX_CHARACTERS:
        raise UnsupportedMatch(
            f"A matching value is at most {QIDO_PATTERN_MAX_CHARACTERS} characters long."
        )
    collapsed = re.sub(r"\*+", "*", value)
    if collapsed.count("*") > QIDO_PATTERN_MAX_STARS:
        raise UnsupportedMatch(
            f"A matching value may hold at most {QIDO_PATTERN_MAX_STARS} '*' wildcards."
        )
    return collapsed


def _wildcard_q(field: str, pattern: str, *, case_insensitive: bool) -> Q:
    return Q(WildcardMatch(F(field), pattern, case_insensitive=case_insensitive))


def _list_values(value: str) -> list[str]:
    values = [v for v in re.split(r"[\\,]", value) if v]
    if len(values) > QIDO_LIST_MAX_VALUES:
        raise UnsupportedMatch(f"A list match holds at most {QIDO_LIST_MAX_VALUES} values.")
    return values


def _date_bound(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text.strip().replace("-", ""), "%Y%m%d").date()
    except ValueError:
        raise UnsupportedMatch(f"{text!r} is not a date (YYYYMMDD).") from None


def _exact_text(match: MatchField, value: str) -> str | None:
    """The string a text attribute must equal (§C.2.2.2.1 single value matching), or None
    where the match is anything else (universal, wildcard, another kind of attribute).
    Every matching value passes here first (_match_q): one that no stored value can hold
    is refused."""
    if "\x00" in value:
        # No DICOM string VR allows NUL, and PostgreSQL refuses it in a query (a 500).
        raise UnsupportedMatch("A matching value may not contain a NUL character.")
    value = value.strip()
    if (
        match.kind != "text"
        or value in ("", "*")
        or "*" in value
        or "?" in value
        or len(value) > QIDO_PATTERN_MAX_CHARACTERS
    ):
        return None
    return value


def _match_q(match: MatchField, value: str, *, fuzzy: bool) -> Q:
    """One attribute's condition. Empty and '*' are universal matching (§C.2.2.2.3)."""
    exact = _exact_text(match, value)
    if exact is not None:
        return Q(**{match.field: exact})
    value = value.strip()
    if value in ("", "*"):
        return Q()
    if match.kind == "uid":
        # §C.2.2.2.2 List of UID matching; PS3.18 §8.3.4.1 allows commas as well.
        uids = _list_values(value)
        if not all(UID_PATTERN.fullmatch(u) for u in uids):
            raise UnsupportedMatch(f"{value[:80]!r} is not a UID or list of UIDs.")
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
        number = int(value) if re.fullmatch(r"[+-]?[0-9]{1,12}", value) else None
        if number is None or not _INTEGER_STRING_RANGE[0] <= number <= _INTEGER_STRING_RANGE[1]:
            raise UnsupportedMatch(f"{value[:40]!r} is not an integer string (VR IS).")
        return Q(**{match.field: number})
    if match.kind == "modality":
        return Q(**{f"{match.field}__in": _list_values(value)})
    pattern = _pattern_check(value)
    if match.kind == "pn":
        # Person names match case-insensitively (as Orthanc does by default). Fuzzy
        # matching (PS3.18 §8.3.4.1) matches the term at the start of any name component:
        # of the value, or after a component (^), group (=) or word (space) separator.
        if fuzzy:
            q = Q()
            for start in ("", "*^", "*=", "* "):
                q |= _wildcard_q(match.field, f"{start}{pattern}*", case_insensitive=True)
            return q
        return _wildcard_q(match.field, pattern, case_insensitive=True)
    # Text without a wildcard was matched exactly above (_exact_text).
    return _wildcard_q(match.field, pattern, case_insensitive=False)


def matching_filter(*, fields: dict[str, MatchField], matches: dict[str, str], fuzzy: bool) -> Q:
    """The AND of every attribute's condition; raises UnsupportedMatch for unknown keys."""
    q = Q()
    for keyword, value in matches.items():
        match = fields.get(keyword)
        if match is None:
            raise UnsupportedMatch(f"Matching on {keyword} is not supported at this level.")
        q &= _match_q(match, value, fuzzy=fuzzy)
    return q


def _page(queryset: QuerySet, *, limit: int | None, offset: int, evaluate: bool = True):
    """The page's rows (or, `evaluate=False`, the sliced queryset)."""
    queryset = queryset[offset:] if limit is None else queryset[offset : offset + limit]
    return list(queryset) if evaluate else queryset


def _matching_where_visible(queryset: QuerySet, *, visible: Q, matching: Q) -> QuerySet:
    """The rows of `queryset` that are `visible` and satisfy `matching`, where `matching`
    is evaluated only on visible rows.

    A WHERE clause leaves the order of its terms to the query planner, so a pattern could
    run over studies the caller may not see (costing time that reveals whether they
    match). SQL's CASE evaluates a THEN branch only when its WHEN holds (SQLite: "The CASE
    expression"; PostgreSQL §9.18.1), so the visibility rule guards the matching.
    """
    if not visible:  # sees everything (staff): nothing to guard
        return queryset.filter(matching)
    queryset = queryset.filter(visible)
    if not matching:
        return queryset
    matches = Case(When(matching, then=Value(True)), default=Value(False))
    return queryset.filter(
        Case(When(visible, then=matches), default=Value(False), output_field=BooleanField())
    )


def _visible_studies(user) -> QuerySet:
    from accounts.permissions import visible
    from studies.models import Study

    return visible(user, "studies.studies", Study.objects.all()).values("pk")


def _visible_series(user) -> QuerySet:
    from accounts.permissions import visible_q
    from studies.models import Series

    return (
        Series.objects.filter(study__in=_visible_studies(user))
        .exclude(visible_q(user, "assessments.series_withheld"))
        .values("pk")
    )


def studies_search(
    *, user, matches: dict[str, str], fuzzy: bool = False, limit: int | None, offset: int = 0
) -> list:
    """Studies the user may see that match every condition, ordered, paged; conditions are
    evaluated only on studies the user may see."""
    from accounts.permissions import visible_q

    def visibility(someone) -> Q:
        return visible_q(someone, "studies.studies")

    def build(visible: Q, values: dict[str, str]) -> QuerySet:
        queryset = _studies_matching(visible=visible, matches=values, fuzzy=fuzzy)
        return _page(queryset, limit=limit, offset=offset, evaluate=False)

    exact = {
        keyword: _exact_text(STUDY_MATCH_FIELDS[keyword], value)
        for keyword, value in matches.items()
        if keyword in STUDY_MATCH_FIELDS
    }
    if exact and len(exact) == len(matches) and None not in exact.values():
        # Every condition an exact text match (PatientID=..., AccessionNumber=...): the
        # query's SQL is the same for every such search but for the values (search_plans).
        found = planned_search(
            shape=("studies", fuzzy, limit, offset),
            user=user,
            visibility=visibility,
            values=exact,
            build=build,
        )
        if found is not None:
            return found
    return list(build(visibility(user), matches))


def _studies_matching(*, visible: Q, matches: dict[str, str], fuzzy: bool) -> QuerySet:
    from studies.models import Study

    q = matching_filter(fields=STUDY_MATCH_FIELDS, matches=matches, fuzzy=fuzzy)
    # The rule's filter over Study itself (not "pk in (visible studies)"): the same rows,
    # one subquery less to build and plan on every search.
    queryset = _matching_where_visible(Study.objects.all(), visible=visible, matching=q)
    if any("__" in STUDY_MATCH_FIELDS[keyword].field for keyword in matches):
        # Only a match across a relation (ModalitiesInStudy: series) repeats a study.
        queryset = queryset.distinct()
    return queryset.order_by("study_date", "study_instance_uid")


def series_search(
    *,
    user,
    study_instance_uid: str | None,
    matches: dict[str, str],
    fuzzy: bool = False,
    limit: int | None,
    offset: int = 0,
) -> list:
    """Series of visible studies (of one study when given) matching every condition,
    evaluated only on series the user may see."""
    from studies.models import Series

    if study_instance_uid is not None:
        study_locate(user=user, study_instance_uid=study_instance_uid)
    q = matching_filter(fields=SERIES_MATCH_FIELDS, matches=matches, fuzzy=fuzzy)
    queryset = Series.objects.select_related("study")
    if study_instance_uid is not None:
        queryset = queryset.filter(study__study_instance_uid=study_instance_uid)
    queryset = _matching_where_visible(
        queryset, visible=Q(pk__in=_visible_series(user)), matching=q
    )
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
    condition, evaluated only on instances the user may see."""
    from studies.models import Instance

    if series_instance_uid is not None:
        series_locate(
            user=user,
            study_instance_uid=study_instance_uid or "",
            series_instance_uid=series_instance_uid,
        )
    elif study_instance_uid is not None:
        study_locate(user=user, study_instance_uid=study_instance_uid)
    q = matching_filter(fields=INSTANCE_MATCH_FIELDS, matches=matches, fuzzy=fuzzy)
    queryset = Instance.objects.select_related("series__study")
    if study_instance_uid is not None:
        queryset = queryset.filter(series__study__study_instance_uid=study_instance_uid)
    if series_instance_uid is not None:
        queryset = queryset.filter(series__series_instance_uid=series_instance_uid)
    queryset = _matching_where_visible(
        queryset, visible=Q(series__in=_visible_series(user)), matching=q
    )
    queryset = queryset.distinct().order_by(
        "series__series_number", "series__pk", "instance_number", "pk"
    )
    return _page(queryset, limit=limit, offset=offset)


# --- WADO-RS targets ---------------------------------------------------------------------------


def study_locate(*, user, study_instance_uid: str):
    """The visible study with this UID, else Http404 (unknown and unseen look the same)."""
    from accounts.permissions import visible
    from studies.models import Study

    found = Study.objects.filter(study_instance_uid=study_instance_uid)
    study = visible(user, "studies.studies", found).first()
    if study is None:
        raise Http404("No such study.")
    return study


def study_title_visible(*, user, study_instance_uid: str) -> str:
    """What a person reads for this study (its title or description), "" when unseen."""
    from studies.models import Study

    study = Study.objects.filter(
        pk__in=_visible_studies(user), study_instance_uid=study_instance_uid
    ).first()
    return str(study) if study is not None else ""


def series_locate(*, user, study_instance_uid: str, series_instance_uid: str):
    from accounts.permissions import visible_q
    from studies.models import Series

    study = study_locate(user=user, study_instance_uid=study_instance_uid)
    series = (
        Series.objects.filter(study=study, series_instance_uid=series_instance_uid)
        .exclude(visible_q(user, "assessments.series_withheld"))
        .first()
    )
    if series is None:
        raise Http404("No such series in this study.")
    return series


def series_uids_withheld(*, user, uids) -> set[str]:
    """Which of these series UIDs are withheld from this user now (exam answer keys, for
    residents): pages that name series (the viewer page, lesson viewer blocks) leave them
    out, as DICOMweb does."""
    from accounts.permissions import visible_q
    from studies.models import Series

    wanted = [uid for uid in uids if uid]
    if not wanted:
        return set()
    return set(
        Series.objects.filter(
            visible_q(user, "assessments.series_withheld"), series_instance_uid__in=wanted
        ).values_list("series_instance_uid", flat=True)
    )


def series_instances(*, series) -> list:
    """The series' instances in InstanceNumber order."""
    return list(series.instances.order_by("instance_number", "pk"))


def study_instances(*, study, user) -> list:
    """The study's instances this user may retrieve (series withheld during an exam left out)."""
    from accounts.permissions import visible_q
    from studies.models import Instance, Series

    withheld = Series.objects.filter(visible_q(user, "assessments.series_withheld")).values("pk")
    return list(
        Instance.objects.filter(series__study=study)
        .exclude(series__in=withheld)
        .select_related("series__study")  # each instance's URL names its study
        .order_by("series__series_number", "series__pk", "instance_number", "pk")
    )


def instance_locate(
    *, user, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str
):
    """The instance, if its study is visible to this user and its series not withheld, else
    Http404 naming the first level that is missing (unknown and unseen look the same).

    One query on the way in (a viewer asks this for every frame it shows); only a miss
    walks the levels again to say which one it was."""
    from accounts.permissions import visible_q
    from studies.models import Instance, Series, Study

    instance = (
        Instance.objects.filter(
            sop_instance_uid=sop_instance_uid,
            series__series_instance_uid=series_instance_uid,
            series__study__study_instance_uid=study_instance_uid,
            series__study__in=Study.objects.filter(visible_q(user, "studies.studies")).values("pk"),
        )
        .exclude(
            series__in=Series.objects.filter(visible_q(user, "assessments.series_withheld")).values(
                "pk"
            )
        )
        .select_related("series__study")
        .first()
    )
    if instance is None:
        series_locate(
            user=user,
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
        )
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
    if library_is_local():
        return path
    try:
        return library_file_local(instance.file_path, size=instance.file_size)
    except StudyNotFound:
        raise Http404("No such instance file.") from None


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
    from accounts.permissions import visible
    from studies.models import Study

    return list(
        visible(user, "studies.studies", Study.objects.all())
        .prefetch_related("courses")
        .order_by("-is_quarantined", "key", "study_date", "pk")
    )


def course_choices() -> list:
    """The Curriculum pages a study can be made visible to."""
    from studies.models import course_page_model

    return list(course_page_model().objects.order_by("title"))
