"""Occlusion (Zeiler & Fergus, ECCV 2014): hide a patch, watch the score drop."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from zoo.explainers.base import Explainer, ScoreModule, batch_size_for

# Nine patch positions a side (81 forward passes whatever the image size) keep a 512 x 512
# slice to seconds on a CPU; patches about 1/6 of the side overlap their neighbours, as in
# Zeiler & Fergus, so each pixel is scored by more than one patch.
POSITIONS_PER_SIDE = 9
PATCH_FRACTION = 6


def occlusion_patch(side: int) -> tuple[int, int]:
    """(patch, stride) in pixels for an image `side` pixels wide.

    The last patch ends exactly on the image's edge: every pixel is scored by some patch,
    so a stride that overshot would leave a strip of zeros.
    """
    stride = max(1, -(-(side - side // PATCH_FRACTION) // (POSITIONS_PER_SIDE - 1)))
    if side - stride * (POSITIONS_PER_SIDE - 1) < stride:  # tiny images: keep patches touching
        stride = max(1, side // POSITIONS_PER_SIDE)
    return max(1, side - stride * (POSITIONS_PER_SIDE - 1)), stride


def patch_corners(side: int) -> tuple[int, list[int]]:
    """(patch, first pixel of each patch) along one side, as a sliding window places them."""
    patch, stride = occlusion_patch(side)
    return patch, list(range(0, side - patch + 1, stride))


class Occlusion(Explainer):
    key = "occlusion"
    title = "Occlusion"
    network_passes = POSITIONS_PER_SIDE**2  # one forward pass per patch position
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
        """Score(image) - score(image with the patch set to `baseline`), averaged over the
        patches covering each pixel, summed over channels (as captum's Occlusion with a
        window spanning every channel).

        The occluded copies go through the network several per pass (`batch_size_for`: 4
        for the lesion finder, 16 for the radiograph classifier).
        """
        rows, columns = inputs.shape[-2:]
        (patch_rows, row_starts), (patch_columns, column_starts) = (
            patch_corners(rows),
            patch_corners(columns),
        )
        windows = [(top, left) for top in row_starts for left in column_starts]
        channels = inputs.shape[1]
        total = torch.zeros((rows, columns), dtype=inputs.dtype, device=inputs.device)
        counts = torch.zeros_like(total)
        size = batch_size_for(inputs, len(windows))
        with torch.no_grad():
            unoccluded = score(inputs)[0]
            for start in range(0, len(windows), size):
                chunk = windows[start : start + size]
                occluded = inputs.repeat(len(chunk), 1, 1, 1)
                for index, (top, left) in enumerate(chunk):
                    window = np.s_[top : top + patch_rows, left : left + patch_columns]
                    occluded[(index, slice(None), *window)] = baseline[(0, slice(None), *window)]
                drops = unoccluded - score(occluded)
                for drop, (top, left) in zip(drops, chunk, strict=True):
                    window = np.s_[top : top + patch_rows, left : left + patch_columns]
                    total[window] += drop
                    counts[window] += 1.0
        return channels * total / counts.clamp(min=1.0)
