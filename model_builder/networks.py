"""The two network sizes a resident can choose, and how images become their input.

Both are plain convolutional classifiers: three stages of two 3 x 3 convolutions, then the
average *and* the maximum over the image, so a small focal finding (a nodule anywhere in
the patch) can drive the output. They take images of any size, which lets a trained model
run on a break-it lab's whole slice as well as on 64 x 64 patches.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# Two CT windows as two channels, as the zoo's lesion finder uses: lung and soft tissue.
CT_WINDOWS = ((-1000.0, 200.0), (-100.0, 300.0))
MODEL_WIDTHS = {"small": (16, 32, 64), "medium": (32, 64, 128)}


def _stage(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
        nn.Conv2d(outputs, outputs, 3, padding=1),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    )


class ImageClassifier(nn.Module):
    """(batch, 2, rows, columns) -> (batch,) logits of the positive class."""

    def __init__(self, widths: tuple[int, int, int]) -> None:
        super().__init__()
        first, second, third = widths
        self.features = nn.Sequential(
            _stage(len(CT_WINDOWS), first),
            nn.MaxPool2d(2),
            _stage(first, second),
            nn.MaxPool2d(2),
            _stage(second, third),
        )
        self.head = nn.Linear(2 * third, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.features(images)
        pooled = torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3))], 1)
        return self.head(pooled)[:, 0]


def network_build(*, size: str) -> ImageClassifier:
    return ImageClassifier(MODEL_WIDTHS[size])


def weight_count(network: nn.Module) -> int:
    return sum(parameter.numel() for parameter in network.parameters())


def images_to_channels(images: np.ndarray, *, modality: str) -> torch.Tensor:
    """(..., rows, columns) in modality units -> (..., 2, rows, columns) in [0, 1].

    CT: the two HU windows. Other modalities have no absolute scale, so each image is
    scaled between its 1st and 99th percentiles into both channels.
    """
    images = np.asarray(images, dtype=np.float32)
    if modality == "CT":
        channels = [np.clip((images - low) / (high - low), 0.0, 1.0) for low, high in CT_WINDOWS]
    else:
        low = np.percentile(images, 1, axis=(-2, -1), keepdims=True)
        high = np.percentile(images, 99, axis=(-2, -1), keepdims=True)
        scaled = np.clip((images - low) / np.maximum(high - low, 1e-6), 0.0, 1.0)
        channels = [scaled, scaled]
    return torch.from_numpy(np.stack(channels, axis=-3).astype(np.float32))
