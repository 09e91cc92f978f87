"""Scoring a cohort, free of Django: perturb each case, run the model, keep its score.

The worker path (`services.cohort_run_execute`) and the benchmark call these functions.
Each case is perturbed with seed `seed + case index`, so any case of any run can be
regenerated exactly (the worst-case pictures are drawn that way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from zoo.base import (
    ClassificationOutput,
    ImageVolume,
    SegmentationOutput,
    ZooError,
    ZooModel,
)
from zoo.cohorts.ct_lesions import LesionCohort
from zoo.evaluation import dice_score
from zoo.perturbations.registry import perturbation_get

CaseCallback = Callable[[int], None]


class ScoringError(ValueError):
    """The model or perturbation cannot score this cohort; the message says why."""


@dataclass(frozen=True)
class CaseResult:
    score: float  # P(positive)
    dice: float | None  # Dice of the predicted mask with the reference, when a mask is drawn


def positive_probability(output) -> float:
    """P(positive) from a zoo output: the last class of a classifier (classes are ordered
    negative first, e.g. ("no lesion", "lesion")), or a segmenter's case output."""
    if isinstance(output, ClassificationOutput):
        return float(output.probabilities[-1])
    if isinstance(output, SegmentationOutput) and output.case is not None:
        return float(output.case.probabilities[-1])
    if isinstance(output, SegmentationOutput):
        # No case output: the share of the image called foreground stands in for a score.
        return float((output.labels > 0).mean())
    raise ScoringError("This model gives neither a class probability nor a mask.")


def perturbed_image(
    image: np.ndarray,
    *,
    perturbation_key: str | None,
    severity: float | None,
    seed: int,
    pixel_spacing_mm: float,
) -> np.ndarray:
    """The case after the perturbation, measured on the cohort's own pixel size (the
    sinogram-domain CT perturbations need it: a 64-pixel patch at 1.4 mm is not a body)."""
    if perturbation_key is None or severity is None:
        return image
    perturbation = perturbation_get(perturbation_key).at_pixel_spacing(pixel_spacing_mm)
    if severity <= perturbation.severity_min:
        return image
    return perturbation.apply(image, severity=severity, seed=seed)


def case_score(
    *, model: ZooModel, image: np.ndarray, mask: np.ndarray, pixel_spacing_mm: float
) -> CaseResult:
    volume = ImageVolume.from_slice(
        image=image, modality="CT", pixel_spacing_mm=(pixel_spacing_mm, pixel_spacing_mm)
    )
    try:
        output = model.predict(volume)
    except ZooError as error:
        raise ScoringError(str(error)) from error
    dice = None
    if isinstance(output, SegmentationOutput) and mask.any():
        dice = dice_score(predicted=output.labels > 0, reference=mask)
    return CaseResult(score=positive_probability(output), dice=dice)


def condition_score(
    *,
    model: ZooModel,
    cohort: LesionCohort,
    perturbation_key: str | None,
    severity: float | None,
    seed: int,
    on_case: CaseCallback = lambda index: None,
    cases: range | None = None,
) -> list[CaseResult]:
    """Every case of `cohort` (or the `cases` range of it: one part of a sweep) scored after
    the perturbation at `severity` (None: as is). A case's seed is `seed + its index in the
    cohort`, so a part scores its cases exactly as the whole sweep would."""
    if perturbation_key is not None:
        perturbation = perturbation_get(perturbation_key)
        if "CT" not in perturbation.modalities:
            raise ScoringError(f"{perturbation.title} does not apply to CT.")
    results = []
    for index in cases if cases is not None else range(len(cohort)):
        image = perturbed_image(
            cohort.images[index],
            perturbation_key=perturbation_key,
            severity=severity,
            seed=seed + index,
            pixel_spacing_mm=cohort.pixel_spacing_mm,
        )
        results.append(
            case_score(
                model=model,
                image=image,
                mask=cohort.masks[index],
                pixel_spacing_mm=cohort.pixel_spacing_mm,
            )
        )
        on_case(index)
    return results


def harm(*, baseline: CaseResult, changed: CaseResult, positive: bool, by_dice: bool) -> float:
    """How far the change moved the case toward the wrong answer (bigger is worse).

    By Dice (segmenters, lesion cases): the Dice lost. Otherwise the score moved away
    from the reference: a drop for a lesion case, a rise for a case without one.
    """
    if by_dice:
        if baseline.dice is None or changed.dice is None:
            return float("-inf")
        return baseline.dice - changed.dice
    moved = changed.score - baseline.score
    return -moved if positive else moved


_FINGERPRINTS: dict[int, str] = {}


def model_fingerprint(model: ZooModel) -> str:
    """sha256 of the network's weights (once per process and model object)."""
    import hashlib

    if id(model) not in _FINGERPRINTS:
        digest = hashlib.sha256(model.key.encode())
        for name, tensor in sorted(model.network().state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        _FINGERPRINTS[id(model)] = digest.hexdigest()
    return _FINGERPRINTS[id(model)]
