"""The break-it computation, free of Django: load, perturb, infer twice, compare.

The web/worker path (`services.lab_run_execute`) and the benchmark's in-process baseline
call the same function, so the benchmark measures the platform's overhead and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from labs.perturbations.registry import perturbation_get
from labs.zoo.base import SegmentationOutput, ZooError
from labs.zoo.ct_tissue import dice_per_class
from labs.zoo.registry import model_get
from studies.selectors import study_series_load

ProgressCallback = Callable[[int, str], None]


class IncompatibleInput(ValueError):
    """The study does not fit the model or the perturbation (e.g. MR given to a CT model)."""


@dataclass(frozen=True)
class BreakItResult:
    original: np.ndarray
    perturbed: np.ndarray
    prediction_original: SegmentationOutput
    prediction_perturbed: SegmentationOutput
    metrics: dict[str, float]


def _no_progress(percent: int, message: str) -> None:
    return None


def break_it_compute(
    *,
    study_key: str,
    model_key: str,
    perturbation_key: str,
    severity: float,
    seed: int,
    on_progress: ProgressCallback = _no_progress,
) -> BreakItResult:
    """Run the model on the study's first slice before and after the perturbation."""
    model = model_get(model_key)
    perturbation = perturbation_get(perturbation_key)
    on_progress(10, "Loading the study")
    series = study_series_load(study_key=study_key)
    if series.modality != model.modality:
        raise IncompatibleInput(
            f"{model.title} reads {model.modality}; this study is {series.modality}."
        )
    if series.modality not in perturbation.modalities:
        raise IncompatibleInput(f"{perturbation.title} does not apply to {series.modality}.")
    original = series.pixels[0]
    on_progress(25, f"Applying {perturbation.title.lower()}")
    perturbed = perturbation.apply(original, severity=severity, seed=seed)
    try:
        on_progress(45, "Running the model on the original")
        prediction_original = model.predict(original)
        on_progress(65, "Running the model on the broken image")
        prediction_perturbed = model.predict(perturbed)
    except ZooError as error:
        # Wrong geometry, missing or damaged weights: the run fails with the model's words.
        raise IncompatibleInput(str(error)) from error
    if not isinstance(prediction_original, SegmentationOutput):
        raise IncompatibleInput(f"{model.title} does not draw a map this lab can compare.")
    on_progress(85, "Measuring the change")
    agreement = dice_per_class(prediction_perturbed.labels, prediction_original.labels)
    metrics = {f"dice vs original: {name}": value for name, value in agreement.items()}
    metrics["mean dice vs original"] = float(np.mean(list(agreement.values())))
    metrics["pixels relabelled (%)"] = float(
        100.0 * (prediction_perturbed.labels != prediction_original.labels).mean()
    )
    metrics["measured noise σ (HU)"] = float(np.std(perturbed - original))
    metrics["mean confidence, original"] = float(prediction_original.confidence.mean())
    metrics["mean confidence, broken"] = float(prediction_perturbed.confidence.mean())
    return BreakItResult(
        original=original,
        perturbed=perturbed,
        prediction_original=prediction_original,
        prediction_perturbed=prediction_perturbed,
        metrics=metrics,
    )
