"""CT tissue segmenter: a small CNN the project trains itself on a real CT slice.

What it learns: to label each pixel of an axial CT slice as air/lung, fat, soft tissue or
bone/contrast. The reference labels are HU thresholds (HU_CLASS_BOUNDS: -400, -20 and
250 HU) of the 3 x 3 median-filtered slice, so the best this network can learn is that
rule: a threshold on a locally smoothed HU value, with no context beyond its 9 x 9 pixel
receptive field. It is a three-convolution CNN, not a U-Net. What it reads is the HU scale
itself, which is exactly what noise, a wrong rescale or a window clipped at export take
away from it: the lab lets residents watch that happen.

Training data: pydicom's CT_small (a real 128 x 128 axial CT slice, MIT). The left half
trains, the right half is held out; metrics are measured on the held-out half by
`evaluate` and stored beside the weights by `zoo_build`. One slice is a small world, and
the card says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from zoo.base import (
    ImageVolume,
    InputSpec,
    MeasuredValue,
    ModelCard,
    PreparedInput,
    SegmentationOutput,
    Task,
    ZooModel,
)
from zoo.weights_files import WEIGHTS_DIR, state_dict_load

WEIGHTS_PATH = WEIGHTS_DIR / "ct_tissue.pt"
METRICS_PATH = WEIGHTS_DIR / "ct_tissue.metrics.json"
TRAINING_STUDY_KEY = "ct-small"

CLASS_NAMES = ("air/lung", "fat", "soft tissue", "bone/contrast")
# Lower HU bound of classes 1..3; class 0 is everything below -400 HU.
HU_CLASS_BOUNDS = (-400.0, -20.0, 250.0)
HU_SCALE = 1000.0
HELD_OUT_FIRST_COLUMN = 64


class TissueNet(nn.Module):
    """Three convolutions, ~2.7k weights: a receptive field of 9 x 9 pixels (~6 mm)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 16, kernel_size=3, padding=2, dilation=2),
            nn.ReLU(),
        )
        self.classifier = nn.Conv2d(16, len(CLASS_NAMES), kernel_size=1)

    def forward(self, hu_scaled: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(hu_scaled))


def reference_labels(image_hu: np.ndarray) -> np.ndarray:
    """Tissue class per pixel from HU ranges of the 3 x 3 median-filtered slice."""
    smoothed = ndimage.median_filter(image_hu, size=3)
    return np.digitize(smoothed, HU_CLASS_BOUNDS).astype(np.int64)


def _to_tensor(image_hu: np.ndarray) -> torch.Tensor:
    clipped = np.clip(image_hu, -1024.0, 3071.0) / HU_SCALE
    return torch.from_numpy(clipped.astype(np.float32))[None, None]


def dice_per_class(predicted: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Dice of each class present in either map (NaN-free: absent in both is skipped)."""
    scores = {}
    for index, name in enumerate(CLASS_NAMES):
        p, r = predicted == index, reference == index
        denominator = p.sum() + r.sum()
        if denominator:
            scores[name] = float(2.0 * np.logical_and(p, r).sum() / denominator)
    return scores


@dataclass(frozen=True)
class TrainingOutcome:
    state_dict: dict[str, torch.Tensor]
    metrics: dict[str, float]


def train(*, image_hu: np.ndarray, seed: int = 0, steps: int = 400) -> TrainingOutcome:
    """Train on the left half of the slice; measure on the held-out right half."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    labels = reference_labels(image_hu)
    train_image = image_hu[:, :HELD_OUT_FIRST_COLUMN]
    train_labels = labels[:, :HELD_OUT_FIRST_COLUMN]
    network = TissueNet()
    optimiser = torch.optim.Adam(network.parameters(), lr=0.01)
    loss_function = nn.CrossEntropyLoss()
    crop = 48
    for _step in range(steps):
        top = rng.integers(0, train_image.shape[0] - crop + 1)
        left = rng.integers(0, train_image.shape[1] - crop + 1)
        patch = train_image[top : top + crop, left : left + crop]
        target = train_labels[top : top + crop, left : left + crop]
        if rng.random() < 0.5:
            patch, target = patch[:, ::-1], target[:, ::-1]
        optimiser.zero_grad()
        logits = network(_to_tensor(np.ascontiguousarray(patch)))
        loss = loss_function(logits, torch.from_numpy(np.ascontiguousarray(target))[None])
        loss.backward()
        optimiser.step()
    network.eval()
    return TrainingOutcome(
        state_dict=network.state_dict(), metrics=evaluate(network=network, image_hu=image_hu)
    )


@torch.inference_mode()
def evaluate(*, network: nn.Module, image_hu: np.ndarray) -> dict[str, float]:
    """Pixel accuracy and Dice per class on the held-out right half of the slice."""
    predicted = network(_to_tensor(image_hu)).argmax(1)[0].numpy()
    reference = reference_labels(image_hu)
    held_out = np.s_[:, HELD_OUT_FIRST_COLUMN:]
    dice = dice_per_class(predicted[held_out], reference[held_out])
    metrics = {f"dice {name}": value for name, value in dice.items()}
    metrics["mean dice"] = float(np.mean(list(dice.values())))
    metrics["pixel accuracy"] = float((predicted[held_out] == reference[held_out]).mean())
    return metrics


def weights_save(outcome: TrainingOutcome) -> None:
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    torch.save(outcome.state_dict, WEIGHTS_PATH)
    METRICS_PATH.write_text(json.dumps(outcome.metrics, indent=2, sort_keys=True) + "\n")


class CtTissueSegmenter(ZooModel):
    key = "ct-tissue"
    title = "CT tissue segmenter (project-trained CNN)"
    task = Task.SEGMENTATION
    modality = "CT"
    class_names = CLASS_NAMES
    input_spec = InputSpec(
        modalities=("CT",),
        dimensions=2,
        min_size=(16, 16),
        max_size=(1024, 1024),
        description="One axial CT slice in HU, any size from 16 x 16 to 1024 x 1024.",
    )
    saliency_layer = "features.2"

    def preprocess(self, volume: ImageVolume) -> PreparedInput:
        return PreparedInput(tensor=_to_tensor(volume.pixels[0]))

    def network(self) -> nn.Module:
        return _network_load()

    def postprocess(self, logits: torch.Tensor, prepared: PreparedInput) -> SegmentationOutput:
        probabilities = logits.softmax(1)[0]
        confidence, labels = probabilities.max(0)
        return SegmentationOutput(
            labels=labels.numpy().astype(np.int64),
            confidence=confidence.numpy().astype(np.float32),
            class_names=CLASS_NAMES,
        )

    def card(self) -> ModelCard:
        metrics = json.loads(METRICS_PATH.read_text()) if METRICS_PATH.exists() else {}
        return ModelCard(
            intended_use=(
                "Teaching only: shows how a pixel classifier that learned the HU scale "
                "fails when noise, rescale errors or clipping change the numbers it reads."
            ),
            training_data=(
                "Left half of one real axial CT slice (pydicom CT_small, 128 x 128); "
                "reference labels from HU thresholds (-400, -20 and 250 HU) of the 3 x 3 "
                "median-filtered slice. A three-convolution CNN (~2.7k weights, 9 x 9 pixel "
                "receptive field), not a U-Net: it can learn that threshold rule, not "
                "anatomical context."
            ),
            limitations=(
                "Trained on a single slice of one patient from one scanner; it has never "
                "seen another body region, kernel or dose. Not a diagnostic device."
            ),
            licence="Weights: MIT (trained by the Artefact project). Data: MIT (pydicom).",
            metrics=metrics,
            measured=tuple(
                MeasuredValue(name=name, value=value) for name, value in metrics.items()
            ),
            evaluation="Measured by zoo_build on the held-out right half of the slice.",
            key=self.key,
            title=self.title,
            task=str(self.task),
            inputs=self.input_spec.description,
        )


@cache
def _network_load() -> nn.Module:
    return state_dict_load(
        network=TissueNet(), path=WEIGHTS_PATH, model_title="CT tissue segmenter"
    )
