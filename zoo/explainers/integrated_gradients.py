"""Integrated Gradients (Sundararajan, Taly & Yan, ICML 2017) from an all-air image."""

from __future__ import annotations

import torch
from torch import nn

from zoo.explainers.base import Explainer, ScoreModule, batch_size_for

# 16 steps keep a 512 x 512 slice to seconds on a CPU. The completeness error (attributions
# should sum to score(image) - score(baseline)) is the rule's: ~15 % on a lesion-finder case,
# which shifts the sum, not where the map is bright.
STEPS = 16


def trapezoid_steps(steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(alphas, weights) of the trapezoid rule on [0, 1] with `steps` points.

    The weights sum to 1, so the attributions add up to score(image) - score(baseline) up
    to the rule's error. (captum's "riemann_trapezoid" weights sum to (steps - 1) / steps;
    its maps are the same up to that factor, which normalisation removes.)
    """
    alphas = torch.linspace(0.0, 1.0, steps)
    weights = torch.full((steps,), 1.0 / (steps - 1))
    weights[0] = weights[-1] = 0.5 / (steps - 1)
    return alphas, weights


class IntegratedGradients(Explainer):
    key = "integrated-gradients"
    title = "Integrated Gradients"
    polarity = "absolute"
    network_passes = 2 * STEPS  # a forward and a backward pass per step
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
        """(image - baseline) x the trapezoid integral of the score's gradient along the
        straight path, per pixel, channels summed.

        The path's points go through the network as batches (as many steps per pass as
        `batch_size_for` allows: 4 for the lesion finder, all 16 for the radiograph
        classifier) rather than one pass per step: a cache-sized batch costs less than as
        many single passes on a CPU, and the gradient of the batch's summed score is each
        image's own gradient, since the images do not interact (eval mode, no batch
        statistics).
        """
        alphas, weights = trapezoid_steps(STEPS)
        alphas, weights = alphas.to(inputs), weights.to(inputs)
        difference = inputs - baseline
        integral = torch.zeros_like(inputs[0])
        size = batch_size_for(inputs, STEPS)
        for start in range(0, STEPS, size):
            alpha = alphas[start : start + size].view(-1, *([1] * (inputs.ndim - 1)))
            path = (baseline + alpha * difference).detach().requires_grad_(True)
            (gradient,) = torch.autograd.grad(score(path).sum(), path)
            step_weights = weights[start : start + size].view_as(alpha)
            integral += (gradient * step_weights).sum(0)
        return (difference[0] * integral).sum(0)
