"""Educators' own models: a TorchScript archive plus a spec, validated before use.

Two rules keep an uploaded file from being code we run blindly:
- only TorchScript archives are accepted (`torch.jit.load` reads a zip with serialized
  TorchScript code, never a pickle of arbitrary Python objects); a bare pickle or a
  `torch.save` state dict is refused at upload with a message saying what to send instead;
- validation loads and runs the model in a separate process with a time limit and a data
  (heap) limit, on a real sample study of the declared modality, and checks the output
  shape against the spec. A model that hangs, eats memory or crashes fails its
  validation; the worker that asked survives.

`python -m labs.zoo.uploaded ARCHIVE SPEC_JSON SAMPLE_NPY` is that child process.
"""

from __future__ import annotations

import json
import sys
import time
import zipfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from labs.zoo.base import (
    ClassificationOutput,
    ImageVolume,
    InputSpec,
    ModelCard,
    PreparedInput,
    SegmentationOutput,
    SpecMismatch,
    Task,
    ZooModel,
)
from labs.zoo.weights_files import torchscript_load

MODALITIES = ("CT", "MR")
NORMALISATIONS = ("window", "zscore", "minmax")
OUTPUTS = ("classification", "segmentation")
UPLOAD_KEY_PREFIX = "upload-"


@dataclass(frozen=True)
class UploadSpec:
    """What the educator declares about their model; `problems` lists what is inconsistent."""

    modality: str
    input_rows: int
    input_columns: int
    normalisation: str  # window: (HU - (centre - width/2)) / width; zscore; minmax
    output: str
    labels: tuple[str, ...]
    window_centre: float = 40.0
    window_width: float = 400.0

    @classmethod
    def from_json(cls, data: dict) -> UploadSpec:
        try:
            return cls(
                modality=str(data["modality"]),
                input_rows=int(data["input_rows"]),
                input_columns=int(data["input_columns"]),
                normalisation=str(data["normalisation"]),
                output=str(data["output"]),
                labels=tuple(str(label) for label in data["labels"]),
                window_centre=float(data.get("window_centre", 40.0)),
                window_width=float(data.get("window_width", 400.0)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SpecMismatch(f"The model spec is incomplete or malformed: {error}") from error

    def to_json(self) -> dict:
        return {**asdict(self), "labels": list(self.labels)}

    def problems(self) -> list[str]:
        found = []
        if self.modality not in MODALITIES:
            found.append(f"Modality must be one of {', '.join(MODALITIES)}.")
        if not (16 <= self.input_rows <= 1024 and 16 <= self.input_columns <= 1024):
            found.append("Input size must be between 16 and 1024 pixels per side.")
        if self.normalisation not in NORMALISATIONS:
            found.append(f"Normalisation must be one of {', '.join(NORMALISATIONS)}.")
        if self.normalisation == "window" and self.window_width <= 0:
            found.append("The window width must be positive.")
        if self.output not in OUTPUTS:
            found.append(f"Output must be one of {', '.join(OUTPUTS)}.")
        if not 2 <= len(self.labels) <= 20 or len(set(self.labels)) != len(self.labels):
            found.append("Give between 2 and 20 distinct labels, one per output channel.")
        return found

    def expected_output_shape(self) -> tuple[int, ...]:
        if self.output == "classification":
            return (1, len(self.labels))
        return (1, len(self.labels), self.input_rows, self.input_columns)


def torchscript_archive_check(*, path: Path) -> None:
    """Refuse anything that is not a TorchScript archive, saying what it looks like instead.

    A TorchScript zip holds `<name>/code/` (the serialized program) and `<name>/data.pkl`;
    `torch.save` zips hold `data.pkl` without `code/`; a bare pickle is not a zip at all.
    """
    if not zipfile.is_zipfile(path):
        raise SpecMismatch(
            "This file is not a TorchScript archive. Arbitrary pickles are refused because "
            "loading them can run any code; export your model with torch.jit.script(...) or "
            "torch.jit.trace(...) and torch.jit.save(...)."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError) as error:
        raise SpecMismatch(f"The archive is damaged: {error}") from error
    if broken is not None:
        raise SpecMismatch(f"The archive is damaged: {broken} fails its CRC check.")
    if not any("/code/" in name for name in names):
        raise SpecMismatch(
            "This is a torch.save file (for example a state dict), not TorchScript: it holds "
            "weights without the network that uses them. Export the whole model with "
            "torch.jit.save(torch.jit.script(model), path)."
        )


def spec_input(*, spec: UploadSpec, image_hu: np.ndarray) -> torch.Tensor:
    """One 2-D image in modality units -> (1, 1, rows, columns), resized and normalised."""
    tensor = torch.from_numpy(np.ascontiguousarray(image_hu, dtype=np.float32))[None, None]
    tensor = torch.nn.functional.interpolate(
        tensor, size=(spec.input_rows, spec.input_columns), mode="bilinear", align_corners=False
    )
    if spec.normalisation == "window":
        low = spec.window_centre - spec.window_width / 2
        return ((tensor - low) / spec.window_width).clamp(0.0, 1.0)
    if spec.normalisation == "zscore":
        return (tensor - tensor.mean()) / tensor.std().clamp_min(1e-6)
    span = (tensor.max() - tensor.min()).clamp_min(1e-6)
    return (tensor - tensor.min()) / span


def output_check(*, spec: UploadSpec, output: torch.Tensor) -> None:
    expected = spec.expected_output_shape()
    if tuple(output.shape) != expected:
        raise SpecMismatch(
            f"The model returned shape {tuple(output.shape)}; the spec ({spec.output}, "
            f"{len(spec.labels)} labels, {spec.input_rows} x {spec.input_columns}) needs "
            f"{expected}."
        )
    if not torch.isfinite(output).all():
        raise SpecMismatch("The model returned NaN or infinite values on the sample study.")


class UploadedTorchScriptModel(ZooModel):
    """A validated educator upload, run through the same interface as the zoo's own models."""

    def __init__(
        self, *, key: str, title: str, archive: Path, sha256: str, spec: UploadSpec, author: str
    ):
        self.sha256 = sha256
        self.key, self.title, self.archive, self.spec, self.author = (
            key,
            title,
            archive,
            spec,
            author,
        )
        self.task = Task.CLASSIFICATION if spec.output == "classification" else Task.SEGMENTATION
        self.modality = spec.modality
        self.input_spec = InputSpec(
            modalities=(spec.modality,),
            dimensions=2,
            min_size=(16, 16),
            max_size=(2048, 2048),
            description=(
                f"One {spec.modality} image, resized to {spec.input_rows} x "
                f"{spec.input_columns}, {spec.normalisation} normalisation."
            ),
        )

    def network(self) -> torch.nn.Module:
        # A new adapter is made for every lab run; the loaded module is kept per process.
        return _upload_network_load(self.archive, self.sha256, self.title)

    def preprocess(self, volume: ImageVolume) -> PreparedInput:
        return PreparedInput(
            tensor=spec_input(spec=self.spec, image_hu=volume.pixels[0]),
            context={"shape": volume.pixels.shape[1:]},
        )

    def postprocess(self, output: torch.Tensor, prepared: PreparedInput):
        output_check(spec=self.spec, output=output)
        if self.spec.output == "classification":
            return ClassificationOutput(
                probabilities=output.softmax(1)[0].numpy().astype(np.float32),
                class_names=self.spec.labels,
            )
        # Back to the study's own grid, so overlays line up with the image shown.
        resized = torch.nn.functional.interpolate(
            output, size=tuple(prepared.context["shape"]), mode="bilinear", align_corners=False
        )
        confidence, labels = resized.softmax(1)[0].max(0)
        return SegmentationOutput(
            labels=labels.numpy().astype(np.int64),
            confidence=confidence.numpy().astype(np.float32),
            class_names=self.spec.labels,
        )

    def card(self) -> ModelCard:
        return ModelCard(
            key=self.key,
            title=self.title,
            task=str(self.task),
            inputs=self.input_spec.description,
            intended_use=(
                f"Uploaded by {self.author} for teaching; validated to run, not to be right."
            ),
            training_data="Declared by the uploader; not verified by the platform.",
            limitations=(
                "The platform checked only that the model loads, runs within time and memory "
                "limits and returns the declared shape on a sample study. It measured nothing "
                "about its accuracy."
            ),
            licence="As stated by the uploader.",
        )


@lru_cache(maxsize=8)
def _upload_network_load(archive: Path, sha256: str, title: str) -> torch.nn.Module:
    """The upload's module, checked against the sha256 recorded when it was stored."""
    return torchscript_load(
        path=archive,
        sha256=sha256,
        model_title=title,
        hint="Ask its uploader to upload it again.",
    )


def _validate_in_this_process(*, archive: Path, spec: UploadSpec, sample: np.ndarray) -> dict:
    started = time.perf_counter()
    model = torch.jit.load(str(archive), map_location="cpu").eval()
    with torch.inference_mode():
        output = model(spec_input(spec=spec, image_hu=sample))
    if not isinstance(output, torch.Tensor):
        raise SpecMismatch(f"The model returned {type(output).__name__}, not a tensor.")
    output_check(spec=spec, output=output.float())
    return {"ok": True, "shape": list(output.shape), "seconds": time.perf_counter() - started}


def main(argv: list[str]) -> int:
    archive, spec_json, sample_npy = argv
    torch.set_num_threads(1)
    try:
        spec = UploadSpec.from_json(json.loads(Path(spec_json).read_text()))
        result = _validate_in_this_process(
            archive=Path(archive), spec=spec, sample=np.load(sample_npy)
        )
    except SpecMismatch as error:
        result = {"ok": False, "message": str(error)}
    except MemoryError:
        result = {"ok": False, "message": "The model ran out of its memory allowance."}
    except RuntimeError as error:
        # TorchScript wraps the cause: its first line says "operation failed in the
        # TorchScript interpreter", the last non-empty line says what actually happened.
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        cause = lines[-1] if lines else type(error).__name__
        if "allocate" in str(error) or "out of memory" in str(error).lower():
            result = {"ok": False, "message": f"The model ran out of its memory allowance: {cause}"}
        else:
            result = {"ok": False, "message": f"The model failed on the sample study: {cause}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
