"""Educators' own models: a TorchScript archive plus a spec, validated before use.

TorchScript is code (`torch.from_file`, `torch.save` and `print` all script), so an upload
is never loaded into a web or worker process. Three walls, each enough on its own for
what it covers:
- at the door, only TorchScript archives are accepted (no pickles, no state dicts);
- at validation, the graph's operators are listed inside the sandbox and anything outside
  the allow-list (files, storages, printing, unknown or custom namespaces) is refused
  (`graph_refusal`; `settings.ZOO_UPLOAD_GRAPH_CHECK` switches it off for the tests that
  prove the run-time wall alone holds);
- validation and every later inference run the model in the bubblewrap sandbox
  (`zoo.sandbox`), and every output is checked for shape and finiteness, since a
  model can behave on the validation sample and not on the next study.

Error text raised by the model is never shown: messages are ours, naming at most the
category of failure, shapes (numbers) and refused operator names that match a strict
pattern.
"""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from zoo.base import (
    ClassificationOutput,
    ImageVolume,
    InputSpec,
    ModelCard,
    PreparedInput,
    SegmentationOutput,
    SpecMismatch,
    Task,
    WeightsUnavailable,
    ZooModel,
)
from zoo.sandbox import (
    OutputShapeRefused,
    SandboxedNetwork,
    SandboxRefused,
    SandboxSession,
    SandboxUnavailable,
)
from zoo.weights_files import file_sha256

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
        self,
        *,
        key: str,
        title: str,
        archive: Path | Callable[[], Path],
        sha256: str,
        spec: UploadSpec,
        author: str,
    ):
        self.sha256 = sha256
        # A callable is asked only when the network is needed: with an object store it
        # downloads the archive (runs.files), which listing the zoo must not do.
        self._archive = archive
        self.key, self.title, self.spec, self.author = key, title, spec, author
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

    @property
    def archive(self) -> Path:
        return self._archive() if callable(self._archive) else self._archive

    def network(self) -> torch.nn.Module:
        # A new adapter is made for every lab run; the sandbox is kept per process.
        return _upload_network_load(
            archive=self.archive,
            sha256=self.sha256,
            title=self.title,
            sample_shape=self.spec.expected_output_shape()[1:],
        )

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
def _sandboxed_network(
    archive: Path, sha256: str, sample_shape: tuple[int, ...]
) -> SandboxedNetwork:
    """One sandbox per upload and worker process, started on first use."""
    return SandboxedNetwork(
        session=SandboxSession(archive=archive), sample_shape=sample_shape, sha256=sha256
    )


def _upload_network_load(
    *, archive: Path, sha256: str, title: str, sample_shape: tuple[int, ...]
) -> SandboxedNetwork:
    """The upload's sandboxed module, checked against the sha256 recorded when it was stored.

    The checksum is read here on every use (the archive is small next to an inference), so
    a file altered on disk is refused even while its sandbox is already running.
    """
    hint = "Ask its uploader to upload it again."
    if not archive.is_file():
        raise WeightsUnavailable(f"The weights of {title} are not installed. {hint}")
    if file_sha256(archive) != sha256:
        raise WeightsUnavailable(
            f"The weights file of {title} is damaged (checksum mismatch). {hint}"
        )
    return _sandboxed_network(archive, sha256, sample_shape)


# --- The operator allow-list (checked at validation, inside the sandbox) ------------------

# Namespaces a TorchScript graph of an ordinary network uses; anything else is a custom or
# unknown operator (a compiled extension the sandbox may not even have).
ALLOWED_NAMESPACES = ("aten", "prim")
# Within them, operators that reach outside the tensor program: files and storages
# (aten::from_file, aten::save, set_ onto another storage), printing and warnings.
REFUSED_OPERATOR_PATTERN = re.compile(
    r"file|save|load|storage|print|pickle|mmap|^aten::_?set_|warn|^prim::(PythonOp|Enter|Exit)$",
    re.IGNORECASE,
)
SHOWN_OPERATOR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}::[A-Za-z_][A-Za-z0-9_.]{0,60}$")


def graph_refusal(*, ops: tuple[str, ...]) -> str | None:
    """Why this operator list is refused, in words for the educator, or None."""
    refused = [
        op
        for op in ops
        if op.split("::", 1)[0] not in ALLOWED_NAMESPACES or REFUSED_OPERATOR_PATTERN.search(op)
    ]
    if not refused:
        return None
    shown = [op for op in refused if SHOWN_OPERATOR.match(op)][:5]
    return (
        "The model uses operations uploaded models may not use (reading or writing files, "
        "storages, printing, or operators outside PyTorch's own): "
        + (", ".join(shown) if shown else "operators with unreadable names")
        + ". Export a network that only computes on its input tensor."
    )


def upload_validate(*, archive: Path, spec: UploadSpec, sample: np.ndarray) -> dict:
    """Load the upload in the sandbox, check its graph, run it once on the sample study.

    Returns {"ok": True, "shape": [...], "seconds": s} or {"ok": False, "message": text};
    the text is ours (see the module docstring). Raises SandboxUnavailable where the
    sandbox cannot start, so the caller never falls back to running the model itself.
    """
    from django.conf import settings

    started = time.perf_counter()
    expected = spec.expected_output_shape()
    try:
        with SandboxSession(archive=archive) as session:
            if settings.ZOO_UPLOAD_GRAPH_CHECK:
                refusal = graph_refusal(ops=session.ops)
                if refusal:
                    return {"ok": False, "message": refusal}
            session.forward(spec_input(spec=spec, image_hu=sample).numpy(), expected=expected)
    except OutputShapeRefused as refusal:
        return {
            "ok": False,
            "message": (
                f"The model returned shape {refusal.shape}; the spec ({spec.output}, "
                f"{len(spec.labels)} labels, {spec.input_rows} x {spec.input_columns}) needs "
                f"{expected}."
            ),
        }
    except SandboxUnavailable:
        raise
    except SandboxRefused as refusal:
        return {"ok": False, "message": f"{refusal} (on the sample study)"}
    return {"ok": True, "shape": list(expected), "seconds": time.perf_counter() - started}
