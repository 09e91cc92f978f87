"""Occlusion (Zeiler & Fergus, ECCV 2014): hide a patch, watch the score drop."""

from __future__ import annotations

import torch
from captum.attr import Occlusion as CaptumOcclusion
from torch import nn

from zoo.explainers.base import Explainer, ScoreModule

# Nine patch positions a side (81 forward passes whatever the image size) keep a 512 x 512
# slice to seconds on a CPU; patches about 1/6 of the side overlap their neighbours, as in
# Zeiler & Fergus, so each pixel is scored by more than one patch.
POSITIONS_PER_SIDE = 9
PATCH_FRACTION = 6
PERTURBATIONS_PER_PASS = 9


def occlusion_patch(side: int) -> tuple[int, int]:
    """(patch, stride) in pixels for an image `side` pixels wide.

    The last patch ends exactly on the image's edge: captum scores only pixels that some
    patch covers, so a stride that overshoots would leave a strip of zeros.
    """
    stride = max(1, -(-(side - side // PATCH_FRACTION) // (POSITIONS_PER_SIDE - 1)))
    if side - stride * (POSITIONS_PER_SIDE - 1) < stride:  # tiny images: keep patches touching
        stride = max(1, side // POSITIONS_PER_SIDE)
    return max(1, side - stride * (POSITIONS_PER_SIDE - 1)), stride


class Occlusion(Explainer):
    key = "occlusion"
    title = "Occlusion"
    explanation = (
        "Occlusion covers one square of the image at a time with nothing (air for CT) and "
        "records how much the score falls; bright areas are those whose removal costs the "
        "model most. It asks the model directly, with no gradients, so it is the easiest "
        "map to trust, but it is coarse (the square is about 1/6 of the image), a square of air "
        "is itself an unusual image the model never saw, and evidence present twice (two "
        "nodules) shows weakly because hiding one leaves the other."
    )

    def attribute(
        self,
        *,
        score: ScoreModule,
        layer: nn.Module,
        inputs: torch.Tensor,
        baseline: torch.Tensor,
    ) -> torch.Tensor:
        """Score(image) - score(image with the patch set to `baseline`), averaged per pixel."""
        rows, columns = inputs.shape[-2:]
        (patch_rows, stride_rows), (patch_columns, stride_columns) = (
            occlusion_patch(rows),
            occlusion_patch(columns),
        )
        channels = inputs.shape[1]
        attributions = CaptumOcclusion(score).attribute(
            inputs,
            sliding_window_shapes=(channels, patch_rows, patch_columns),
            strides=(channels, stride_rows, stride_columns),
            baselines=baseline,
            perturbations_per_eval=PERTURBATIONS_PER_PASS,
        )
        return attributions[0].sum(0)
