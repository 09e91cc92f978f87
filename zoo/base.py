"""The one interface every model in the zoo implements.

A model is four steps the lab engine drives without knowing which network is inside:

    volume (modality units + spacing)  --check-->  `input_spec.check`
                                       --preprocess-->  PreparedInput (tensor + context)
                                       --network-->     raw output tensor
                                       --postprocess--> typed output (probabilities, mask, boxes)

`ZooModel.predict` runs them on the CPU by default and on CUDA when present, and turns
everything that can go wrong with a resident's input or a weights file into a `ZooError`
whose message a resident can read: a worker reports it on the run and stays alive.
"""

from __future__ import annotations

import enum
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch


class Task(enum.StrEnum):
    CLASSIFICATION = "classification"
    SEGMENTATION = "segmentation"
    DETECTION = "detection"
    # Segments whatever a prompt (a box drawn by the reader) points at: no fixed classes.
    PROMPTABLE_SEGMENTATION = "promptable segmentation"


class ZooError(Exception):
    """Something a resident or educator can act on; the message says what and why."""


class InputMismatch(ZooError, ValueError):
    """The study does not fit the model: wrong modality, dimensions, size or spacing."""


class WeightsUnavailable(ZooError):
    """The weights are missing, fail their checksum, or cannot be read."""


class SpecMismatch(ZooError):
    """The weights or the network's output do not match what the model declares."""


@dataclass(frozen=True)
class ImageVolume:
    """A series in modality units, ordered like the study library's volumes.

    `pixels` is float32 (slices, rows, columns): rows grow toward the patient's posterior,
    columns toward the patient's left, slices toward superior for axial stacks (DICOM LPS
    order, PS3.3 C.7.6.2.1.1). A projection image or a single slice has one slice.
    """

    pixels: np.ndarray
    spacing_mm: tuple[float, float, float]  # (between slices, between rows, between columns)
    modality: str
    description: str = ""

    @classmethod
    def from_slice(
        cls,
        *,
        image: np.ndarray,
        modality: str,
        pixel_spacing_mm: tuple[float, float] = (1.0, 1.0),
        description: str = "",
    ) -> ImageVolume:
        return cls(
            pixels=np.asarray(image, dtype=np.float32)[None],
            spacing_mm=(1.0, float(pixel_spacing_mm[0]), float(pixel_spacing_mm[1])),
            modality=modality,
            description=description,
        )

    @property
    def slice_count(self) -> int:
        return int(self.pixels.shape[0])


@dataclass(frozen=True)
class InputSpec:
    """What a model accepts; `check` raises InputMismatch in words a resident understands."""

    modalities: tuple[str, ...]
    dimensions: int  # 2: one slice or projection; 3: a volume
    min_size: tuple[int, int]  # rows, columns
    max_size: tuple[int, int]
    min_slices: int = 1
    pixel_spacing_mm: tuple[float, float] | None = None  # accepted in-plane range, if any
    description: str = ""

    def check(self, *, volume: ImageVolume, model_title: str) -> None:
        if volume.modality not in self.modalities:
            raise InputMismatch(
                f"{model_title} reads {' or '.join(self.modalities)} images; "
                f"this series is {volume.modality or 'of unknown modality'}."
            )
        if volume.pixels.ndim != 3 or not np.isfinite(volume.pixels).all():
            raise InputMismatch(
                f"{model_title} needs finite pixel values in a (slices, rows, columns) stack."
            )
        slices, rows, columns = volume.pixels.shape
        if self.dimensions == 2 and slices != 1:
            raise InputMismatch(f"{model_title} reads one image at a time; got {slices} slices.")
        if self.dimensions == 3 and slices < self.min_slices:
            raise InputMismatch(
                f"{model_title} needs a volume of at least {self.min_slices} slices; "
                f"this series has {slices}."
            )
        (min_rows, min_columns), (max_rows, max_columns) = self.min_size, self.max_size
        if not (min_rows <= rows <= max_rows and min_columns <= columns <= max_columns):
            raise InputMismatch(
                f"{model_title} accepts images from {min_rows} x {min_columns} to "
                f"{max_rows} x {max_columns} pixels; this one is {rows} x {columns}."
            )
        if self.pixel_spacing_mm is not None:
            low, high = self.pixel_spacing_mm
            in_plane = volume.spacing_mm[1:]
            if not all(low <= spacing <= high for spacing in in_plane):
                raise InputMismatch(
                    f"{model_title} was built for pixels of {low:g}-{high:g} mm; this series "
                    f"has {in_plane[0]:.2f} x {in_plane[1]:.2f} mm."
                )


@dataclass(frozen=True)
class PreparedInput:
    """The network's input and whatever postprocessing needs to map outputs back."""

    tensor: torch.Tensor
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClassificationOutput:
    """One probability per class (they sum to 1 for exclusive classes)."""

    probabilities: np.ndarray  # float32 (classes,)
    class_names: tuple[str, ...]

    @property
    def predicted(self) -> str:
        return self.class_names[int(np.argmax(self.probabilities))]

    def probability_of(self, class_name: str) -> float:
        return float(self.probabilities[self.class_names.index(class_name)])


@dataclass(frozen=True)
class DetectionOutput:
    """Boxes in pixel indices of the input, (first, last) inclusive on each axis.

    `boxes` is int64 (findings, 2 * axes): (row0, column0, row1, column1) for 2-D inputs,
    (slice0, row0, column0, slice1, row1, column1) for volumes.
    """

    boxes: np.ndarray
    scores: np.ndarray  # float32 (findings,)
    labels: tuple[str, ...]


@dataclass(frozen=True)
class SegmentationOutput:
    """Per-pixel class labels and the probability of the winning class.

    2-D models return (rows, columns) maps, volume models (slices, rows, columns). A model
    that also says whether the case is positive fills `case`, and one that localises fills
    `findings`.
    """

    labels: np.ndarray  # int64
    confidence: np.ndarray  # float32
    class_names: tuple[str, ...]
    case: ClassificationOutput | None = None
    findings: DetectionOutput | None = None


ModelOutput = ClassificationOutput | SegmentationOutput | DetectionOutput


@dataclass(frozen=True)
class MeasuredValue:
    """A metric measured by an evaluation run, with its 95% CI when one was computed."""

    name: str
    value: float
    low: float | None = None
    high: float | None = None
    cases: int | None = None
    group: str = ""  # "" for the whole test set, else the subgroup (e.g. a virtual scanner)


@dataclass
class ModelCard:
    """What a resident should know before trusting a model; every number is measured."""

    intended_use: str
    training_data: str
    limitations: str
    licence: str
    metrics: dict[str, float] = field(default_factory=dict)
    key: str = ""
    title: str = ""
    task: str = ""
    inputs: str = ""
    derivation: str = ""
    failure_modes: tuple[str, ...] = ()
    measured: tuple[MeasuredValue, ...] = ()
    evaluation: str = ""  # how and when the numbers were measured

    @property
    def overall(self) -> tuple[MeasuredValue, ...]:
        return tuple(value for value in self.measured if not value.group)

    @property
    def subgroups(self) -> tuple[MeasuredValue, ...]:
        return tuple(value for value in self.measured if value.group)


@dataclass(frozen=True)
class MetricsRecord:
    """What `zoo_build` measured for a model, read back from its metrics file for the card.

    A missing file reads as nothing measured yet.
    """

    measured: tuple[MeasuredValue, ...] = ()
    evaluation: str = "Not evaluated yet: run zoo_build."
    training_seconds: float | None = None

    @classmethod
    def load(cls, path: Path) -> MetricsRecord:
        recorded = json.loads(path.read_text()) if path.exists() else {}
        return cls(
            measured=tuple(MeasuredValue(**row) for row in recorded.get("measured", ())),
            evaluation=recorded.get("evaluation", cls.evaluation),
            training_seconds=recorded.get("training_seconds"),
        )

    @property
    def overall_metrics(self) -> dict[str, float]:
        """The card's `metrics`: the whole-test-set values by name."""
        return {row.name: row.value for row in self.measured if not row.group}


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block on `count` torch threads, then give the process its previous count.

    A worker process serves every queue it listens to: a sweep's one thread per worker
    (two workers on two cores beat one worker on two) must not outlive the sweep and leave
    the next interactive lab in that process on one core."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def inference_device() -> torch.device:
    """CPU by default, CUDA when present; ARTEFACT_ZOO_DEVICE=cpu forces the CPU."""
    wanted = os.environ.get("ARTEFACT_ZOO_DEVICE", "")
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _on_device(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The module on `device`, moved only when its weights are elsewhere: `Module.to`
    walks every submodule even when nothing moves (~1 ms a call for the lesion model, a
    seventh of its inference on one CPU thread)."""
    weight = next(module.parameters(), None)
    if (
        weight is not None
        and weight.device.type == device.type
        and device.index in (None, weight.device.index)  # "cuda" is "cuda:0" here
    ):
        return module
    return module.to(device)


def module_forward(
    *, module: torch.nn.Module, tensor: torch.Tensor, model_title: str
) -> torch.Tensor:
    """Run `module` on `inference_device()`; the output comes back as float32 on the CPU."""
    device = inference_device()
    try:
        output = _on_device(module, device)(tensor.to(device))
    except RuntimeError as error:
        # A shape or dtype the weights cannot take: the spec and the network disagree.
        raise SpecMismatch(
            f"{model_title} could not run on an input of shape {tuple(tensor.shape)}: "
            f"{str(error).splitlines()[0]}"
        ) from error
    return output.float().cpu()


class ZooModel(ABC):
    """A model residents can run, break and explain.

    Subclasses declare what they accept (`input_spec`), the layer saliency methods should
    attribute to (`saliency_layer`, a dotted module name inside `network()`), and implement
    the steps; the lab engine never needs to know which network is inside.
    """

    key: str
    title: str
    task: Task
    modality: str
    input_spec: InputSpec
    saliency_layer: str = ""

    @abstractmethod
    def preprocess(self, volume: ImageVolume) -> PreparedInput:
        """A checked volume in modality units -> the network's input tensor (on the CPU)."""

    @abstractmethod
    def network(self) -> torch.nn.Module:
        """The torch module, loaded once per process, in eval mode.

        Raises WeightsUnavailable (missing or damaged weights) or SpecMismatch (weights for
        another architecture), never a bare torch error.
        """

    @abstractmethod
    def postprocess(self, output: torch.Tensor, prepared: PreparedInput) -> ModelOutput:
        """Raw network output (on the CPU) -> typed outputs a lab can show and measure."""

    @abstractmethod
    def card(self) -> ModelCard: ...

    def saliency_module(self) -> torch.nn.Module:
        """The module named by `saliency_layer` (captum's LayerGradCam etc. attach here)."""
        module = self.network()
        for part in self.saliency_layer.split(".") if self.saliency_layer else ():
            module = getattr(module, part)
        return module

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        """The network on `inference_device()`, output back on the CPU."""
        return module_forward(module=self.network(), tensor=tensor, model_title=self.title)

    @torch.inference_mode()
    def predict(
        self, image: np.ndarray | ImageVolume, *, pixel_spacing_mm: tuple[float, float] = (1, 1)
    ) -> ModelOutput:
        """Check, preprocess, infer and postprocess one study.

        A bare 2-D array is taken as one image of this model's modality (the break-it lab's
        slices); anything else must come as an ImageVolume. Raises ZooError subclasses only.
        """
        if isinstance(image, ImageVolume):
            volume = image
        else:
            volume = ImageVolume.from_slice(
                image=image, modality=self.modality, pixel_spacing_mm=pixel_spacing_mm
            )
        self.input_spec.check(volume=volume, model_title=self.title)
        prepared = self.preprocess(volume)
        return self.postprocess(self.forward(prepared.tensor), prepared)


class PromptableModel(ZooModel):
    """A model that segments what a reader's box points at (SAM-like foundation models).

    `predict` without a prompt boxes the whole image, so code that knows nothing of
    prompts still gets an answer; labs pass the resident's box to `predict_prompted`.
    """

    task = Task.PROMPTABLE_SEGMENTATION

    @abstractmethod
    def predict_prompted(
        self, volume: ImageVolume, *, box: tuple[float, float, float, float]
    ) -> SegmentationOutput:
        """One slice and a box (column0, row0, column1, row1) in its pixels -> the mask.

        Raises InputMismatch for a box outside the image or too small to mean anything.
        """
