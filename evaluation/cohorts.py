"""Cohorts a cohort lab can score, by key; each is rebuilt deterministically from its seed.

A cohort has one or more *variants* of the same cases: the lesion cohort has one (as
built); the shortcut cohort has two, the cases with the burned-in marker as in training
and the very same cases with the marker removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from zoo.cohorts import ct_lesions, shortcut_lesions

AS_BUILT = "as-built"
WITH_MARKER = "with-marker"
WITHOUT_MARKER = "without-marker"
VARIANT_LABELS = {
    AS_BUILT: "as acquired",
    WITH_MARKER: "marker as in training",
    WITHOUT_MARKER: "marker removed",
}


class UnknownCohort(LookupError):
    pass


@dataclass(frozen=True)
class CohortSpec:
    key: str
    title: str
    description: str
    variants: tuple[str, ...]
    max_cases: int
    build: Callable[[int], dict[str, ct_lesions.LesionCohort]]


def _lesions_held_out(cases: int) -> dict[str, ct_lesions.LesionCohort]:
    # Seed 12 on held-out levels: the first cases of the CT lesion finder's own test set.
    return {AS_BUILT: ct_lesions.cohort_ct_lesions_build(cases=cases, held_out=True, seed=12)}


def _shortcut_held_out(cases: int) -> dict[str, ct_lesions.LesionCohort]:
    marked = shortcut_lesions.shortcut_cohort_build(cases=cases, held_out=True, seed=32)
    return {WITH_MARKER: marked.with_marker(), WITHOUT_MARKER: marked.without_marker()}


COHORTS: dict[str, CohortSpec] = {
    spec.key: spec
    for spec in (
        CohortSpec(
            key="ct-lesions-held-out",
            title="CT lesion patches, held-out levels (4 virtual scanners)",
            description=(
                "64 x 64 patches at 1.4 mm from one real chest CT, half with a simulated "
                "lung nodule or renal mass, seen through four virtual scanners (sites); "
                "axial levels never used to train the zoo's lesion models."
            ),
            variants=(AS_BUILT,),
            max_cases=600,
            build=_lesions_held_out,
        ),
        CohortSpec(
            key="ct-lesions-shortcut",
            title="CT lesion patches with a burned-in marker (shortcut lab)",
            description=(
                "Held-out lesion patches where an 'L' marker is burned into 90 % of the "
                "lesion cases and 10 % of the others, as in the shortcut model's training; "
                "every case is also kept with the marker removed."
            ),
            variants=(WITH_MARKER, WITHOUT_MARKER),
            max_cases=600,
            build=_shortcut_held_out,
        ),
    )
}


def cohort_get(key: str) -> CohortSpec:
    try:
        return COHORTS[key]
    except KeyError:
        raise UnknownCohort(f"No cohort {key!r}.") from None


def cohort_choices() -> list[tuple[str, str]]:
    return [(spec.key, spec.title) for spec in COHORTS.values()]


@lru_cache(maxsize=4)
def cohort_variants(key: str, cases: int) -> dict[str, ct_lesions.LesionCohort]:
    """The cohort's variants, built once per process (a worker scores many runs of it)."""
    return cohort_get(key).build(cases)
