"""The model-parameter randomisation test of Adebayo et al. (NeurIPS 2018).

"Sanity Checks for Saliency Maps": if a map barely changes when the model's learned
weights are replaced by random ones, it is showing the image (edges, bright structures) or
the architecture, not what the model learned. The cascading version randomises layers from
the output back to the input, one more at a time, and compares each map with the original.

The cascade here steps by block (a U-Net's encoder stage, decoder stage, head), as the
paper's figures show it for Inception's blocks, rather than by single layer: the story a
resident reads (the map holds while the head goes, breaks once the features go) is the
same, and a 24-layer network costs 9 maps instead of 25.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage, stats
from torch import nn

from zoo.base import ImageVolume, ZooModel
from zoo.explainers.base import Explainer, SaliencyMap, explanation_input

# SSIM constants of Wang et al. (IEEE TIP 2004) for data in [0, 1].
SSIM_C1, SSIM_C2, SSIM_SIGMA = 0.01**2, 0.03**2, 1.5
# At most this many cascade steps: a flat network of many layers is cut into this many
# contiguous groups, so the check's cost does not grow with depth.
MAX_CASCADE_BLOCKS = 10


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


def _owns_weights(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def blocks_top_down(
    network: nn.Module, *, max_blocks: int = MAX_CASCADE_BLOCKS
) -> list[tuple[str, list[nn.Module]]]:
    """The network's blocks holding weights, output end first: (name, weight-owning layers).

    A block is a child of the first module that has more than one child holding weights
    (wrappers with a single child, like the lesion finder's saliency wrapper, are looked
    through). Registration order stands in for depth, as in `layers_top_down`. Where there
    are more children than `max_blocks`, neighbours are grouped ("features.3-features.5").
    """
    prefix, module = "", network
    while True:
        children = [
            (name, child) for name, child in module.named_children() if _owns_weights(child)
        ]
        if len(children) != 1 or any(True for _ in module.parameters(recurse=False)):
            break
        name, module = children[0]
        prefix = f"{prefix}{name}."
    own = [module] if any(True for _ in module.parameters(recurse=False)) else []
    if not children:
        return [(prefix.rstrip(".") or "network", own)] if own else []
    blocks = [
        (f"{prefix}{name}", [layer for _, layer in layers_top_down(child)])
        for name, child in children
    ]
    if own:
        # Weights held by the branching module itself (a learned scale, say): the last block.
        blocks.append((prefix.rstrip(".") or "network", own))
    size = -(-len(blocks) // max_blocks)
    grouped = []
    for start in range(0, len(blocks), size):
        group = blocks[start : start + size]
        name = group[0][0] if len(group) == 1 else f"{group[0][0]}-{group[-1][0]}"
        grouped.append((name, [layer for _, layers in group for layer in layers]))
    return grouped[::-1]


def cascade_block_count(network: nn.Module) -> int:
    """How many maps the cascade draws for this network, besides the real one."""
    return len(blocks_top_down(network))


@dataclass(frozen=True)
class Cascade:
    """The check's outcome: the real map, one step per block, and the maps after the top
    block and after every block was scrambled (the two residents look at)."""

    real: SaliencyMap
    steps: list[RandomisationStep]
    top: np.ndarray
    scrambled: np.ndarray


def randomisation_cascade(
    *,
    explainer: Explainer,
    model: ZooModel,
    image: np.ndarray | ImageVolume,
    network: nn.Module | None = None,
    real: SaliencyMap | None = None,
    seed: int = 0,
    report: Callable[[int, int, str], None] | None = None,
) -> Cascade:
    """The cascading check on a deep copy of `network` (default: the model's own), by block.

    `real` is the explainer's map of `image` on the unscrambled network where the caller
    already has it. The same class is explained throughout, as in Adebayo et al.: a
    scrambled network's own prediction would change the question, not just the model.
    `report(done, total, block name)` is called after each step. Reproducible from `seed`;
    the global random state is restored afterwards.
    """
    network = model.network() if network is None else network
    if real is None:
        real = explainer.explain(model=model, image=image, network=network)
    scrambled = copy.deepcopy(network)
    blocks = blocks_top_down(scrambled)
    steps: list[RandomisationStep] = []
    top = values = real.values
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        for number, (name, layers) in enumerate(blocks, start=1):
            for layer in layers:
                layer_randomise(layer)
            values = explainer.explain(
                model=model, image=image, target=real.target_index, network=scrambled
            ).values
            steps.append(
                RandomisationStep(
                    layer_name=name,
                    spearman=rank_correlation(real.values, values),
                    ssim=structural_similarity(real.values, values),
                )
            )
            if number == 1:
                top = values
            if report is not None:
                report(number, len(blocks), name)
    finally:
        torch.random.set_rng_state(generator_state)
    return Cascade(real=real, steps=steps, top=top, scrambled=values)


def randomisation_check(
    *,
    explainer: Explainer,
    model: ZooModel,
    image: np.ndarray | ImageVolume,
    target: int | None = None,
    seed: int = 0,
) -> list[tuple[str, float, float]]:
    """(block name, Spearman rho, SSIM) against the original map, one row per cascade step.

    Works on a deep copy: the model's own network is never touched. Row k has the top k + 1
    blocks randomised. A trustworthy explainer's correlation falls as blocks go; one that
    stays near 1 is showing the image or the architecture. Reproducible from `seed`.
    """
    prepared = explanation_input(model=model, image=image)
    real = explainer.explain(model=model, image=image, target=target, prepared=prepared)
    cascade = randomisation_cascade(
        explainer=explainer, model=model, image=prepared.volume, real=real, seed=seed
    )
    return [(step.layer_name, step.spearman, step.ssim) for step in cascade.steps]
