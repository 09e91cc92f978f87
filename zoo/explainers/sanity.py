"""The model-parameter randomisation test of Adebayo et al. (NeurIPS 2018).

"Sanity Checks for Saliency Maps": if a map barely changes when the model's learned
weights are replaced by random ones, it is showing the image (edges, bright structures) or
the architecture, not what the model learned. The cascading version randomises layers from
the output back to the input, one more at a time, and compares each map with the original.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage, stats
from torch import nn

from zoo.base import ImageVolume, ZooModel
from zoo.explainers.base import Explainer

# SSIM constants of Wang et al. (IEEE TIP 2004) for data in [0, 1].
SSIM_C1, SSIM_C2, SSIM_SIGMA = 0.01**2, 0.03**2, 1.5


@dataclass(frozen=True)
class RandomisationStep:
    """The map after randomising `layer_name` and every layer above it."""

    layer_name: str
    spearman: float
    ssim: float


def structural_similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Mean SSIM of two maps in [0, 1] with a Gaussian window (sigma 1.5 pixels)."""
    a, b = first.astype(np.float64), second.astype(np.float64)

    def blur(values: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(values, SSIM_SIGMA, truncate=3.5)

    mean_a, mean_b = blur(a), blur(b)
    variance_a = blur(a * a) - mean_a**2
    variance_b = blur(b * b) - mean_b**2
    covariance = blur(a * b) - mean_a * mean_b
    ssim = ((2 * mean_a * mean_b + SSIM_C1) * (2 * covariance + SSIM_C2)) / (
        (mean_a**2 + mean_b**2 + SSIM_C1) * (variance_a + variance_b + SSIM_C2)
    )
    return float(ssim.mean())


def rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman's rho of the two maps' pixels; 0 when either map is constant (no ranking)."""
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return 0.0
    return float(stats.spearmanr(first.ravel(), second.ravel()).statistic)


def layers_top_down(network: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules holding their own weights, from the output end back to the input end.

    Registration order stands in for depth, which holds for the zoo's sequential and
    U-Net-style networks (the U-Net's decoder and heads are registered after its encoder).
    """
    owning = [
        (name, module)
        for name, module in network.named_modules()
        if any(True for _ in module.parameters(recurse=False))
    ]
    return owning[::-1]


def layer_randomise(module: nn.Module) -> None:
    """Re-initialise one layer: its own initialiser where it has one, else N(0, 0.1)."""
    if hasattr(module, "reset_parameters"):
        module.reset_parameters()
        return
    with torch.no_grad():
        for parameter in module.parameters(recurse=False):
            parameter.normal_(0.0, 0.1)


def randomisation_check(
    *,
    explainer: Explainer,
    model: ZooModel,
    image: np.ndarray | ImageVolume,
    target: int | None = None,
    seed: int = 0,
) -> list[tuple[str, float, float]]:
    """(layer name, Spearman rho, SSIM) against the original map, one row per cascade step.

    Works on a deep copy: the model's own network is never touched. Row k has the top k + 1
    layers randomised. A trustworthy explainer's correlation falls as layers go; one that
    stays near 1 is showing the image or the architecture. Reproducible from `seed`.
    """
    original_map = explainer.explain(model=model, image=image, target=target)
    original = original_map.values
    scrambled = copy.deepcopy(model.network())
    steps: list[tuple[str, float, float]] = []
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        for name, module in layers_top_down(scrambled):
            layer_randomise(module)
            # The same class throughout, as in Adebayo et al.: a scrambled network's own
            # prediction would change the question, not just the model.
            randomised = explainer.explain(
                model=model, image=image, target=original_map.target_index, network=scrambled
            ).values
            steps.append(
                (
                    name,
                    rank_correlation(original, randomised),
                    structural_similarity(original, randomised),
                )
            )
    finally:
        torch.random.set_rng_state(generator_state)
    return steps
