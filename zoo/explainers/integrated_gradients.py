"""Integrated Gradients (Sundararajan, Taly & Yan, ICML 2017) from an all-air image."""

from __future__ import annotations

import torch
from captum.attr import IntegratedGradients as CaptumIntegratedGradients
from torch import nn

from zoo.explainers.base import Explainer, ScoreModule

# 16 steps keep a 512 x 512 slice to seconds on a CPU; the completeness error (attributions
# should sum to score(image) - score(baseline)) stays a few per cent for these small nets.
STEPS = 16
INTERNAL_BATCH = 4


class IntegratedGradients(Explainer):
    key = "integrated-gradients"
    title = "Integrated Gradients"
    polarity = "absolute"
    explanation = (
        "Integrated Gradients fades the image in from a baseline of nothing (air, -1000 HU, "
        "for CT; black otherwise) and adds up, pixel by pixel, how much the score changed "
        "along the way. The attributions add up to the score of the image minus the score "
        "of the baseline, so every pixel's share is accounted for. The map is shown as "
        "magnitude (evidence for or against). It is pixel-sharp and therefore speckled; it "
        "depends on the baseline chosen (a dark nodule on an air baseline gets little "
        "credit), and with few steps the sum is only approximate."
    )

    def attribute(
        self,
        *,
        score: ScoreModule,
        layer: nn.Module,
        inputs: torch.Tensor,
        baseline: torch.Tensor,
    ) -> torch.Tensor:
        """Riemann (trapezoid) integral of gradients from `baseline` to `inputs`, per pixel."""
        attributions = CaptumIntegratedGradients(score).attribute(
            inputs,
            baselines=baseline,
            n_steps=STEPS,
            method="riemann_trapezoid",
            internal_batch_size=INTERNAL_BATCH,
        )
        return attributions[0].sum(0)
