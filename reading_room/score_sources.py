"""Where simulated cases come from: a zoo model scored over a real cohort, by key.

One family, one small interface: a source builds the first `cases` cases of its cohort and
scores them with its model, reporting progress. Adding a source is adding one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from zoo.ct_lesion import TEST_CASES

Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class CohortScores:
    scores: np.ndarray  # float (cases,), the model's probability that the case is positive
    positive: np.ndarray  # bool (cases,)
    subgroup: np.ndarray  # str (cases,)


@dataclass(frozen=True)
class ScoreSource:
    key: str
    title: str
    model_key: str
    default_cases: int
    positive_meaning: str
    compute: Callable[..., CohortScores]


def _ct_lesion_held_out(*, cases: int, on_progress: Progress) -> CohortScores:
    """The zoo's CT lesion finder over its held-out lesion cohort (the model card's test set).

    `cohort_ct_lesions_build` draws cases one after another from one generator, so the
    first `cases` cases are the same whatever the total: a small run is a true subset.
    """
    from zoo.base import torch_threads

    # One thread, as a sweep's parts use: the score set shares the batch queue with them.
    with torch_threads(1):
        return _ct_lesion_held_out_scored(cases=cases, on_progress=on_progress)


def _ct_lesion_held_out_scored(*, cases: int, on_progress: Progress) -> CohortScores:
    from zoo import ct_lesion
    from zoo.cohorts import ct_lesions

    on_progress(5, "Building the held-out cohort")
    cohort = ct_lesions.cohort_ct_lesions_build(
        cases=cases, held_out=True, seed=ct_lesion.TEST_SEED
    )
    on_progress(45, "Loading the model")
    network = ct_lesion._network_load()
    batch = 50
    scores = []
    for start in range(0, len(cohort), batch):
        part = ct_lesions.LesionCohort(
            images=cohort.images[start : start + batch],
            masks=cohort.masks[start : start + batch],
            has_lesion=cohort.has_lesion[start : start + batch],
            organ=cohort.organ[start : start + batch],
            scanner=cohort.scanner[start : start + batch],
            diameter_mm=cohort.diameter_mm[start : start + batch],
            lesion_hu=cohort.lesion_hu[start : start + batch],
            pixel_spacing_mm=cohort.pixel_spacing_mm,
        )
        case_scores, _masks = ct_lesion.cohort_predict(network=network, cohort=part)
        scores.append(case_scores)
        done = min(start + batch, len(cohort))
        on_progress(45 + int(50 * done / len(cohort)), f"Scored {done} of {len(cohort)} cases")
    return CohortScores(
        scores=np.concatenate(scores).astype(float),
        positive=cohort.has_lesion.astype(bool),
        subgroup=cohort.organ,
    )


SOURCES: dict[str, ScoreSource] = {
    source.key: source
    for source in (
        ScoreSource(
            key="ct-lesion-held-out",
            title="CT lesion finder over its held-out lesion cohort",
            model_key="ct-lesion",
            default_cases=TEST_CASES,
            positive_meaning="a lung nodule or renal mass",
            compute=_ct_lesion_held_out,
        ),
    )
}


def score_source_choices() -> list[tuple[str, str]]:
    return [(source.key, source.title) for source in SOURCES.values()]


def score_source_get(key: str) -> ScoreSource:
    return SOURCES[key]
