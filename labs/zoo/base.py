"""The one interface every model in the zoo implements."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import torch


class Task(enum.StrEnum):
    CLASSIFICATION = "classification"
    SEGMENTATION = "segmentation"
    DETECTION = "detection"


@dataclass(frozen=True)
class SegmentationOutput:
    """Per-pixel class labels and the probability of the winning class."""

    labels: np.ndarray  # int64 (rows, columns)
    confidence: np.ndarray  # float32 (rows, columns)
    class_names: tuple[str, ...]


@dataclass
class ModelCard:
    intended_use: str
    training_data: str
    limitations: str
    licence: str
    metrics: dict[str, float] = field(default_factory=dict)


class ZooModel(ABC):
    """A model residents can run, break and explain.

    Subclasses declare what they accept (`modality`) and implement the three steps; the lab
    engine never needs to know which network is inside.
    """

    key: str
    title: str
    task: Task
    modality: str

    @abstractmethod
    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """One 2-D image in modality units (HU for CT) -> a batch tensor for `network`."""

    @abstractmethod
    def network(self) -> torch.nn.Module:
        """The torch module, loaded once per process, in eval mode."""

    @abstractmethod
    def postprocess(self, logits: torch.Tensor) -> SegmentationOutput:
        """Raw network output -> typed outputs a lab can show and measure."""

    @abstractmethod
    def card(self) -> ModelCard: ...

    @torch.inference_mode()
    def predict(self, image: np.ndarray) -> SegmentationOutput:
        return self.postprocess(self.network()(self.preprocess(image)))
