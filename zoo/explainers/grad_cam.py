"""Grad-CAM (Selvaraju et al., ICCV 2017): where the model's chosen layer 'looks'."""

from __future__ import annotations

import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from zoo.base import ZooError
from zoo.explainers.base import Explainer, ScoreModule


class GradCam(Explainer):
    key = "grad-cam"
    title = "Grad-CAM"
    network_passes = 2  # one forward and one backward pass
    explanation = (
        "Grad-CAM weights each feature map of one deep layer by how much the score rises "
        "when that map rises, adds them up and keeps the positive part. Bright areas are "
        "where the features that pushed the score up were active. The map is as coarse as "
        "that layer (often 8-32 pixels per cell) and is smoothed up to the image, so it "
        "shows a region, not an edge or a single calcification; it only shows evidence for "
        "the score, never against it, and a bright area can be context the model uses "
        "(a tube, a marker, the body outline) rather than the lesion itself."
    )

    def attribute(
        self,
        *,
        score: ScoreModule,
        layer: nn.Module,
        inputs: torch.Tensor,
        baseline: torch.Tensor,
    ) -> torch.Tensor:
        """ReLU(sum_k alpha_k A_k) at `layer`, upsampled bilinearly to the input grid."""
        cam = LayerGradCam(score, layer).attribute(inputs, relu_attributions=True)
        if cam.ndim != inputs.ndim:
            # The layer's output has no spatial map, e.g. an uploaded classifier, whose inner
            # layers stay sealed in its sandbox, explained at its output.
            raise ZooError(
                "Grad-CAM needs a layer with a spatial feature map; this model exposes none. "
                "Integrated Gradients and occlusion work on any model."
            )
        # Bilinear upsampling, as in the paper; the map then carries the layer's blur.
        upsampled = LayerAttribution.interpolate(cam, tuple(inputs.shape[-2:]), "bilinear")
        return upsampled[0].sum(0)
