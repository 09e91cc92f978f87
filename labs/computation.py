"""The lab computation, free of Django's request cycle: load a slice, perturb it, run the
model before and after, explain both, and measure what changed.

The worker path (`services.lab_run_execute`) and the benchmark's in-process baseline call
the same `lab_compute` + `lab_outputs_render`, so the benchmark measures the platform's
overhead and nothing else.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
import torch
from torch.nn import functional

from labs.offers import AdversarialAttack, lab_perturbation_get
from zoo.base import (
    ClassificationOutput,
    DetectionOutput,
    ImageVolume,
    ModelOutput,
    PromptableModel,
    SegmentationOutput,
    ZooError,
)
from zoo.explainers.base import Explainer, SaliencyMap, explanation_input
from zoo.explainers.registry import EXPLAINERS, explainer_get
from zoo.explainers.sanity import (
    MAX_CASCADE_BLOCKS,
    cascade_block_count,
    randomisation_cascade,
    rank_correlation,
)
from zoo.perturbations import adversarial
from zoo.perturbations.base import VolumeRequired
from zoo.registry import UnknownModel, model_get

ProgressCallback = Callable[[int, str], None]


class IncompatibleInput(ValueError):
    """The study does not fit the model or the perturbation (e.g. MR given to a CT model)."""


@dataclass(frozen=True)
class LabRequest:
    """Everything a run needs, as stored on the run's parameters (validated before)."""

    kind: str
    study_key: str
    model_key: str
    slice_index: int = 0  # 0-based image of the study's first image series
    perturbation_key: str = ""
    severity: float = 0.0
    seed: int = 0
    explainer_keys: tuple[str, ...] = ()
    sanity_check: bool = False
    # Prompt labs: the resident's box (column0, row0, column1, row1) in pixel indices.
    box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class SourceSlice:
    """One image of a study in modality units, with the dataset it came from."""

    dataset: pydicom.Dataset
    pixels: np.ndarray  # float32 (rows, columns); MONOCHROME1 already inverted
    pixel_spacing_mm: tuple[float, float]
    modality: str
    slice_index: int
    slice_count: int


@dataclass
class SanityStep:
    layer_name: str
    spearman: float
    ssim: float


@dataclass
class LabResult:
    request: LabRequest
    source: SourceSlice
    original: np.ndarray
    prediction_original: ModelOutput
    perturbed: np.ndarray | None = None
    prediction_perturbed: ModelOutput | None = None
    saliency: dict[tuple[str, str], SaliencyMap] = field(default_factory=dict)
    sanity: dict[str, list[SanityStep]] = field(default_factory=dict)
    # Maps of the scrambled networks: (explainer key, "top" | "all") -> map in [0, 1].
    sanity_maps: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def class_names(self) -> tuple[str, ...]:
        return getattr(self.prediction_original, "class_names", ())


def _no_progress(percent: int, message: str) -> None:
    return None


def _modality_values(dataset: pydicom.Dataset) -> np.ndarray:
    """Stored values -> modality units (PS3.3 C.11.1.1.2); MONOCHROME1 turned so that high
    is bright, as the zoo's series reader does, so every model sees one convention."""
    stored = dataset.pixel_array.astype(np.float32)
    if stored.ndim != 2:
        raise IncompatibleInput("This lab reads single-frame greyscale images only.")
    slope = float(dataset.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(dataset.get("RescaleIntercept", 0.0) or 0.0)
    values = stored * slope + intercept
    if dataset.get("PhotometricInterpretation", "") == "MONOCHROME1":
        values = values.max() + values.min() - values
    return values


def slice_load(*, paths: list[Path], slice_index: int) -> SourceSlice:
    """Decode only the chosen image: a 133-slice CT costs one file read, not 133."""
    if not 0 <= slice_index < len(paths):
        raise IncompatibleInput(
            f"Choose an image between 1 and {len(paths)}; {slice_index + 1} is not one."
        )
    dataset = pydicom.dcmread(paths[slice_index])
    spacing = dataset.get("PixelSpacing") or dataset.get("ImagerPixelSpacing") or (1.0, 1.0)
    return SourceSlice(
        dataset=dataset,
        pixels=_modality_values(dataset),
        pixel_spacing_mm=(float(spacing[0]), float(spacing[1])),
        modality=str(dataset.get("Modality", "")),
        slice_index=slice_index,
        slice_count=len(paths),
    )


def _volume(model, image: np.ndarray, source: SourceSlice) -> ImageVolume:
    # The model sees the image as its own modality: a CR chest film and a DX model differ
    # only in the acquisition label, and the modality check is done once, up front.
    return ImageVolume.from_slice(
        image=image, modality=model.modality, pixel_spacing_mm=source.pixel_spacing_mm
    )


def _predict(model, image: np.ndarray, source: SourceSlice, box=None) -> ModelOutput:
    try:
        if box is not None:
            return model.predict_prompted(_volume(model, image, source), box=box)
        return model.predict(_volume(model, image, source))
    except ZooError as error:
        raise IncompatibleInput(str(error)) from error


def _network_output(network: torch.nn.Module, tensor: torch.Tensor) -> torch.Tensor:
    output = network(tensor)
    return output[0] if isinstance(output, tuple) else output


def _attack_input_map(model, network, image: np.ndarray, source: SourceSlice):
    """A differentiable stand-in for the model's preprocessing, exact at `image`.

    Zoo models preprocess in numpy (windows, rescaling, resampling), so the attack uses
    the local linearisation x_in = k * resample(t) + b, with k measured by shifting the
    image by 1 unit and b making it exact at the clean image. Clamped pixels get k = 0,
    which is their true gradient. Raises IncompatibleInput when k is zero everywhere
    (a model that normalises each image by its own statistics ignores a uniform shift).
    """
    volume = _volume(model, image, source)
    prepared = model.preprocess(volume)
    shifted = model.preprocess(_volume(model, image + 1.0, source)).tensor
    clean = prepared.tensor
    gain = shifted - clean
    if not torch.any(gain.abs() > 1e-9):
        raise IncompatibleInput(
            f"{model.title} rescales every image by its own statistics, so its input does "
            "not follow a change in HU or intensity; FGSM/PGD cannot be run on it here."
        )
    target_size = tuple(clean.shape[-2:])
    resampled = prepared.context.get("resampled_size")

    def resample(t: torch.Tensor) -> torch.Tensor:
        if resampled is not None and tuple(resampled) != target_size:
            t = functional.interpolate(t, size=tuple(resampled), mode="bilinear")
            pad_rows, pad_columns = target_size[0] - resampled[0], target_size[1] - resampled[1]
            return functional.pad(t, (0, pad_columns, 0, pad_rows))
        if tuple(t.shape[-2:]) != target_size:
            return functional.interpolate(t, size=target_size, mode="bilinear")
        return t

    image_tensor = torch.from_numpy(np.asarray(image, np.float32))[None, None]
    offset = clean - gain * resample(image_tensor)
    # On a CUDA host the network lives on the GPU; the attack's image stays on the CPU and
    # autograd carries its gradient across the copy.
    device = next(network.parameters()).device
    gain, offset = gain.to(device), offset.to(device)
    return lambda t: gain * resample(t.to(device)) + offset


def _attack(
    *,
    model,
    network,
    attack: AdversarialAttack,
    image: np.ndarray,
    source: SourceSlice,
    epsilon: float,
):
    """FGSM or PGD in image units against the model's own answer on the clean image."""
    to_input = _attack_input_map(model, network, image, source)
    image_tensor = torch.from_numpy(np.asarray(image, np.float32))[None, None]
    with torch.no_grad():
        clean_output = _network_output(network, to_input(image_tensor))
    if clean_output.ndim == 2:
        own = clean_output.argmax(1)

        def loss(output):
            return functional.cross_entropy(_first(output), own)
    elif clean_output.shape[1] == 1:
        own_mask = (clean_output > 0).float()

        def loss(output):
            return functional.binary_cross_entropy_with_logits(_first(output), own_mask)
    else:
        own_labels = clean_output.argmax(1)

        def loss(output):
            return functional.cross_entropy(_first(output), own_labels)

    value_range = (-1024.0, 3071.0) if source.modality == "CT" else None
    with torch.enable_grad():
        if attack.steps <= 1:
            return adversarial.fgsm(
                network=network,
                image=image,
                loss=loss,
                epsilon=epsilon,
                to_network_input=to_input,
                value_range=value_range,
            )
        return adversarial.pgd(
            network=network,
            image=image,
            loss=loss,
            epsilon=epsilon,
            steps=attack.steps,
            to_network_input=to_input,
            value_range=value_range,
        )


def _first(output):
    return output[0] if isinstance(output, tuple) else output


def _perturb(
    *, model, network, request: LabRequest, source: SourceSlice, paths: list[Path]
) -> np.ndarray:
    perturbation = lab_perturbation_get(request.perturbation_key)
    if source.modality not in perturbation.modalities:
        raise IncompatibleInput(f"{perturbation.title} does not apply to {source.modality}.")
    if isinstance(perturbation, AdversarialAttack):
        return _attack(
            model=model,
            network=network,
            attack=perturbation,
            image=source.pixels,
            source=source,
            epsilon=request.severity,
        )
    # Projection-domain CT physics (low dose, metal, beam hardening) needs the size of a
    # pixel in mm: this slice knows its own from Pixel Spacing (the geometric mean of the
    # two, as the projector steps in square pixels).
    row_mm, column_mm = source.pixel_spacing_mm
    perturbation = perturbation.at_pixel_spacing(float(np.sqrt(row_mm * column_mm)))
    try:
        return perturbation.apply(source.pixels, severity=request.severity, seed=request.seed)
    except VolumeRequired:
        pass
    # Through-plane effects (thicker slices) need the neighbours: perturb a slab of the
    # series around the chosen image and keep that image.
    reach = int(np.ceil(request.severity / 2.0)) + 1
    first = max(0, source.slice_index - reach)
    last = min(len(paths) - 1, source.slice_index + reach)
    if first == last:
        raise IncompatibleInput(f"{perturbation.title} needs a series of several images.")
    slab = np.stack(
        [
            source.pixels
            if index == source.slice_index
            else slice_load(paths=paths, slice_index=index).pixels
            for index in range(first, last + 1)
        ]
    )
    try:
        changed = perturbation.apply(slab, severity=request.severity, seed=request.seed)
    except VolumeRequired as error:
        raise IncompatibleInput(str(error)) from error
    return changed[source.slice_index - first]


def sanity_explainer(explainer_keys) -> Explainer | None:
    """The explainer the randomisation check is computed with: the cheapest one offered.

    The check asks one question of the model (does the map depend on what it learned?);
    Adebayo et al. answer it per method, and the cascade multiplies its explainer's cost
    by the number of blocks, so it is drawn with the method a lab can afford to repeat
    (Grad-CAM where offered) and the page says which one it is.
    """
    offered = [EXPLAINERS[key] for key in explainer_keys if key in EXPLAINERS]
    return min(offered, key=lambda explainer: explainer.network_passes, default=None)


@dataclass(frozen=True)
class PassEstimate:
    """Forward and backward passes through the network one run costs, by part."""

    parts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.parts.values())


def lab_network_passes(
    *,
    explainer_keys,
    perturbed: bool,
    sanity_check: bool,
    cascade_blocks: int = MAX_CASCADE_BLOCKS,
) -> PassEstimate:
    """What a run with these settings costs in network passes (an image of a batched pass
    counts as one): the predictions, each explainer on each image (with the first forward
    pass they share) and the check's cascade, one map per block plus the real one."""
    images = 2 if perturbed else 1
    explainers = [EXPLAINERS[key] for key in explainer_keys if key in EXPLAINERS]
    parts = {"predictions": images}
    if explainers:
        parts["first forward pass per image"] = images
    for explainer in explainers:
        parts[explainer.title] = images * explainer.network_passes
    checker = sanity_explainer(explainer_keys) if sanity_check else None
    if checker is not None:
        parts[f"randomisation check ({checker.title})"] = cascade_blocks * (
            checker.network_passes + 1
        )
    return PassEstimate(parts=parts)


def model_cascade_blocks(model) -> int:
    """Blocks the check scrambles for this model's network (the upper bound where its
    layers cannot be seen, e.g. an upload sealed in its sandbox)."""
    if getattr(model, "archive", None) is not None:
        return MAX_CASCADE_BLOCKS
    try:
        return max(1, cascade_block_count(model.network()))
    except (ZooError, OSError, RuntimeError):
        return MAX_CASCADE_BLOCKS


class TooManyNetworkPasses(IncompatibleInput):
    """A run would exceed settings.LAB_RUN_MAX_NETWORK_PASSES."""


def network_passes_check(estimate: PassEstimate, *, limit: int) -> None:
    """Raise TooManyNetworkPasses, saying which part to drop, when over `limit`."""
    if estimate.total <= limit:
        return
    largest = max(estimate.parts, key=estimate.parts.get)
    raise TooManyNetworkPasses(
        f"These settings need about {estimate.total} passes through the network per run "
        f"(limit {limit}); {largest} alone needs {estimate.parts[largest]}. Offer fewer "
        "explainers, or drop the one with the most passes (occlusion needs one pass per "
        "patch), so the run finishes within its time limit."
    )


def _dice_per_class(
    predicted: np.ndarray, reference: np.ndarray, class_names: tuple[str, ...]
) -> dict[str, float]:
    """Dice of each of the model's own classes present in either map (absent in both is
    skipped), named by the model: a brain mask's classes are not the tissue model's."""
    scores = {}
    for index, name in enumerate(class_names):
        p, r = predicted == index, reference == index
        denominator = int(p.sum()) + int(r.sum())
        if denominator:
            scores[name] = float(2.0 * np.logical_and(p, r).sum() / denominator)
    return scores


def _output_metrics(original: ModelOutput, perturbed: ModelOutput | None) -> dict[str, float]:
    metrics: dict[str, float] = {}

    def probabilities(output, label):
        for name, value in zip(output.class_names, output.probabilities, strict=True):
            metrics[f"P({name}), {label}"] = float(value)

    if isinstance(original, ClassificationOutput):
        probabilities(original, "original")
        if perturbed is not None:
            probabilities(perturbed, "perturbed")
            for name in original.class_names:
                metrics[f"change in P({name})"] = perturbed.probability_of(
                    name
                ) - original.probability_of(name)
    if isinstance(original, SegmentationOutput):
        if original.case is not None:
            metrics.update(_output_metrics(original.case, perturbed.case if perturbed else None))
        metrics["mean confidence, original"] = float(original.confidence.mean())
        if perturbed is not None:
            agreement = _dice_per_class(perturbed.labels, original.labels, original.class_names)
            for index_name, value in agreement.items():
                metrics[f"dice vs original: {index_name}"] = value
            metrics["mean dice vs original"] = float(np.mean(list(agreement.values())))
            metrics["pixels relabelled (%)"] = float(
                100.0 * (perturbed.labels != original.labels).mean()
            )
            metrics["mean confidence, perturbed"] = float(perturbed.confidence.mean())
        if original.findings is not None:
            metrics["findings, original"] = float(len(original.findings.boxes))
            if perturbed is not None and perturbed.findings is not None:
                metrics["findings, perturbed"] = float(len(perturbed.findings.boxes))
    if isinstance(original, DetectionOutput):
        metrics["findings, original"] = float(len(original.boxes))
        if perturbed is not None:
            metrics["findings, perturbed"] = float(len(perturbed.boxes))
    return metrics


def _attacks(request: LabRequest) -> bool:
    return bool(request.perturbation_key) and isinstance(
        lab_perturbation_get(request.perturbation_key), AdversarialAttack
    )


def _trainable_network(model) -> torch.nn.Module:
    """The model's network with ordinary (not inference-mode) weights.

    `ZooModel.predict` runs under torch.inference_mode; a network first loaded there holds
    inference tensors, which autograd refuses. Loading it here first avoids that; a network
    some earlier call already loaded that way is copied out of inference mode.
    """
    network = model.network()
    if not any(parameter.is_inference() for parameter in network.parameters()):
        return network
    usable = copy.deepcopy(network)
    for module in usable.modules():
        for name, parameter in list(module.named_parameters(recurse=False)):
            setattr(module, name, torch.nn.Parameter(parameter.detach().clone()))
        for name, buffer in list(module.named_buffers(recurse=False)):
            module.register_buffer(name, buffer.detach().clone())
    return usable


@functools.lru_cache(maxsize=8)
def _seg_frames(path: str, modified: float) -> tuple[dict[str, int], dict[tuple[str, int], int]]:
    """A SEG's segment numbers by lower-case label, and its frame per (source SOP Instance
    UID, segment number); headers only, cached per file version."""
    header = pydicom.dcmread(path, stop_before_pixels=True)
    segments = {
        str(item.SegmentLabel).strip().lower(): int(item.SegmentNumber)
        for item in header.SegmentSequence
    }
    # A SEG with one segment may say so once, in the shared functional groups (highdicom
    # does), instead of in every frame.
    shared = header.get("SharedFunctionalGroupsSequence", [None])[0]
    frames = {}
    for index, frame in enumerate(header.PerFrameFunctionalGroupsSequence):
        identification = frame.get("SegmentIdentificationSequence") or (
            shared.get("SegmentIdentificationSequence") if shared is not None else None
        )
        if not identification:
            continue
        number = int(identification[0].ReferencedSegmentNumber)
        for derivation in frame.get("DerivationImageSequence", []):
            for source in derivation.get("SourceImageSequence", []):
                frames[(str(source.ReferencedSOPInstanceUID), number)] = index
    return segments, frames


def seg_truth_masks(
    *, seg_paths: list[Path], source_uid: str, labels: set[str], shape: tuple[int, int]
) -> dict[str, np.ndarray]:
    """Ground-truth masks on one image for the segment labels asked for (lower case).

    A label the SEG has but with no frame on this image gets an empty mask (the structure
    is not on this slice); labels no SEG has are left out.
    """
    masks: dict[str, np.ndarray] = {}
    for path in seg_paths:
        segments, frames = _seg_frames(str(path), Path(path).stat().st_mtime)
        wanted = {label: number for label, number in segments.items() if label in labels}
        pixels = None
        for label, number in wanted.items():
            index = frames.get((source_uid, number))
            if index is None:
                masks.setdefault(label, np.zeros(shape, bool))
                continue
            if pixels is None:
                pixels = pydicom.dcmread(path).pixel_array
                pixels = pixels[None] if pixels.ndim == 2 else pixels
            masks[label] = pixels[index].astype(bool)
    return masks


def binary_dice(first: np.ndarray, second: np.ndarray) -> float:
    """2|A∩B| / (|A| + |B|); two empty masks agree perfectly (1.0)."""
    total = int(first.sum()) + int(second.sum())
    return 1.0 if total == 0 else 2.0 * float(np.logical_and(first, second).sum()) / total


def _truth_metrics(result: LabResult, seg_paths: list[Path]) -> dict[str, float]:
    original = result.prediction_original
    if not seg_paths or not isinstance(original, SegmentationOutput):
        return {}
    names = {name.strip().lower(): index for index, name in enumerate(original.class_names)}
    names.pop(original.class_names[0].strip().lower(), None)  # class 0 is the background
    masks = seg_truth_masks(
        seg_paths=seg_paths,
        source_uid=str(result.source.dataset.SOPInstanceUID),
        labels=set(names),
        shape=original.labels.shape,
    )
    metrics = {}
    for label, truth in masks.items():
        if truth.shape != original.labels.shape:
            continue
        index = names[label]
        before = binary_dice(original.labels == index, truth)
        metrics[f"dice vs truth: {label}, original"] = before
        if result.prediction_perturbed is not None:
            after = binary_dice(result.prediction_perturbed.labels == index, truth)
            metrics[f"dice vs truth: {label}, perturbed"] = after
            metrics[f"change in dice vs truth: {label}"] = after - before
    return metrics


def _prompt_truth_metrics(result: LabResult, seg_paths: list[Path]) -> dict[str, float]:
    """A promptable model has no classes: its mask is compared with the library's label
    that fills most of the resident's box on this image (e.g. the kidney the box was drawn
    round). Also the share of the mask outside the box: a mask that spills out of its
    prompt has found something else."""
    box = result.request.box
    original = result.prediction_original
    rows, columns = original.labels.shape
    column0, row0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    column1, row1 = min(columns - 1, int(np.ceil(box[2]))), min(rows - 1, int(np.ceil(box[3])))
    inside = np.zeros((rows, columns), bool)
    inside[row0 : row1 + 1, column0 : column1 + 1] = True
    predictions = {"original": original, "perturbed": result.prediction_perturbed}
    metrics = {}
    for which, prediction in predictions.items():
        if prediction is None:
            continue
        mask = prediction.labels > 0
        metrics[f"mask area (pixels), {which}"] = float(mask.sum())
        metrics[f"share of the mask outside the box, {which}"] = (
            float((mask & ~inside).sum()) / float(mask.sum()) if mask.any() else 0.0
        )
    labels = {
        label
        for path in seg_paths
        for label in _seg_frames(str(path), Path(path).stat().st_mtime)[0]
    }
    masks = seg_truth_masks(
        seg_paths=seg_paths,
        source_uid=str(result.source.dataset.SOPInstanceUID),
        labels=labels,
        shape=(rows, columns),
    )
    filled = {label: int((truth & inside).sum()) for label, truth in masks.items()}
    if not filled or max(filled.values()) == 0:
        return metrics
    label = max(filled, key=filled.get)
    truth = masks[label]
    for which, prediction in predictions.items():
        if prediction is not None:
            metrics[f"dice vs library label: {label}, {which}"] = binary_dice(
                prediction.labels > 0, truth
            )
    metrics[f"share of the box filled by {label}"] = filled[label] / float(inside.sum())
    return metrics


def lab_compute(
    *,
    request: LabRequest,
    paths: list[Path],
    seg_paths: list[Path] = (),
    on_progress: ProgressCallback = _no_progress,
    max_network_passes: int | None = None,
    on_partial: Callable[[LabResult], None] | None = None,
) -> LabResult:
    """Run one lab: `paths` are the study's image files in order, `seg_paths` its DICOM SEG
    files where the library has ground truth (both from labs.selectors).

    With `max_network_passes`, a run whose settings would cost more passes through the
    network (`lab_network_passes`) is refused (TooManyNetworkPasses) before any is made.
    `on_partial(result)` is called once the predictions are done, with the result the
    maps are then added to, so a caller stopped for time can still show what finished.
    """
    try:
        model = model_get(request.model_key)
    except UnknownModel as error:
        raise IncompatibleInput(str(error)) from error
    on_progress(5, "Loading the image")
    if model.input_spec.dimensions != 2 and (request.explainer_keys or _attacks(request)):
        raise IncompatibleInput(volume_model_refusal(model))
    try:
        network = _trainable_network(model) if request.explainer_keys or _attacks(request) else None
    except ZooError as error:
        raise IncompatibleInput(str(error)) from error
    if max_network_passes is not None:
        blocks = (
            cascade_block_count(network)
            if request.sanity_check and network is not None
            else MAX_CASCADE_BLOCKS
        )
        network_passes_check(
            lab_network_passes(
                explainer_keys=request.explainer_keys,
                perturbed=bool(request.perturbation_key),
                sanity_check=request.sanity_check,
                cascade_blocks=blocks,
            ),
            limit=max_network_passes,
        )
    source = slice_load(paths=paths, slice_index=request.slice_index)
    if source.modality not in model.input_spec.modalities and not (
        {source.modality, model.modality} <= {"CR", "DX"}
    ):
        raise IncompatibleInput(
            f"{model.title} reads {model.modality}; this study is {source.modality}."
        )
    if request.box is not None and not isinstance(model, PromptableModel):
        raise IncompatibleInput(f"{model.title} does not take a box; choose a promptable model.")
    if model.input_spec.dimensions != 2:
        return _volume_lab_compute(
            model=model,
            request=request,
            source=source,
            paths=paths,
            seg_paths=seg_paths,
            on_progress=on_progress,
            on_partial=on_partial,
        )
    original = source.pixels
    on_progress(15, "Running the model on the original")
    result = LabResult(
        request=request,
        source=source,
        original=original,
        prediction_original=_predict(model, original, source, request.box),
    )
    if request.perturbation_key:  # break-it labs, and explain labs that offer a perturbation
        title = lab_perturbation_get(request.perturbation_key).title
        on_progress(30, f"Applying {title.lower()}")
        result.perturbed = _perturb(
            model=model, network=network, request=request, source=source, paths=paths
        )
        on_progress(45, "Running the model on the perturbed image")
        result.prediction_perturbed = _predict(model, result.perturbed, source, request.box)
    result.metrics = _output_metrics(result.prediction_original, result.prediction_perturbed)
    if request.box is not None:
        result.metrics.update(_prompt_truth_metrics(result, list(seg_paths)))
    else:
        result.metrics.update(_truth_metrics(result, list(seg_paths)))
    result.metrics.update(_pixel_change_metrics(result))
    if on_partial is not None:
        on_partial(result)
    images = {"original": original}
    if result.perturbed is not None:
        images["perturbed"] = result.perturbed
    # Each image is prepared once (preprocessing, baseline, first forward pass) for all
    # the explainers that read it.
    prepared = {}
    for number, key in enumerate(request.explainer_keys):
        explainer = explainer_get(key)
        on_progress(55 + 25 * number // max(1, len(request.explainer_keys)), explainer.title)
        target = None
        for which, image in images.items():
            try:
                if which not in prepared:
                    prepared[which] = explanation_input(
                        model=model, image=_volume(model, image, source), network=network
                    )
                found = explainer.explain(
                    model=model, image=None, target=target, prepared=prepared[which]
                )
            except ZooError as error:
                raise IncompatibleInput(str(error)) from error
            target = found.target_index  # the perturbed map explains the same class
            result.saliency[(key, which)] = found
        if "perturbed" in images:
            before, after = result.saliency[(key, "original")], result.saliency[(key, "perturbed")]
            result.metrics[f"{explainer.title}: rank correlation, original vs perturbed map"] = (
                rank_correlation(before.values, after.values)
            )
    checker = sanity_explainer(request.explainer_keys) if request.sanity_check else None
    if checker is not None:
        try:
            cascade = randomisation_cascade(
                explainer=checker,
                model=model,
                image=prepared["original"].volume,
                network=network,
                real=result.saliency[(checker.key, "original")],
                report=lambda done, total, name: on_progress(
                    80 + 15 * done // max(1, total),
                    f"{checker.title}: scrambled {done} of {total} blocks",
                ),
            )
        except ZooError as error:
            raise IncompatibleInput(str(error)) from error
        result.sanity[checker.key] = [
            SanityStep(layer_name=step.layer_name, spearman=step.spearman, ssim=step.ssim)
            for step in cascade.steps
        ]
        result.sanity_maps[(checker.key, "top")] = cascade.top
        result.sanity_maps[(checker.key, "all")] = cascade.scrambled
        if cascade.steps:
            last = cascade.steps[-1]
            result.metrics[f"{checker.title}: rank correlation, all weights scrambled"] = (
                last.spearman
            )
            result.metrics[f"{checker.title}: SSIM, all weights scrambled"] = last.ssim
    result.metrics = finite_metrics(result.metrics)
    return result


def _pixel_change_metrics(result: LabResult) -> dict[str, float]:
    if result.perturbed is None:
        return {}
    original = result.original
    change = result.perturbed - original
    peak = float(original.max() - original.min()) or 1.0
    mse = float(np.mean(change.astype(np.float64) ** 2))
    return {
        "largest pixel change (modality units)": float(np.abs(change).max()),
        "RMS pixel change (modality units)": float(np.sqrt(mse)),
        "PSNR of the perturbed image (dB)": (
            float(10 * np.log10(peak**2 / mse)) if mse > 0 else float("inf")
        ),
    }


def volume_model_refusal(model) -> str:
    return (
        f"{model.title} reads a whole volume: a lab runs it on the series and perturbs the "
        "series, but draws no saliency maps and runs no adversarial attack on it."
    )


def _series_volume(*, paths: list[Path], source: SourceSlice) -> tuple[ImageVolume, int]:
    """The whole series as the zoo reads it (slices, rows, columns in LPS order) and the
    index in it of the image the resident chose, found by its pixels: the shown image and
    the model's slice must be the same picture, not just the same number."""
    from zoo.series import volume_from_files

    try:
        volume = volume_from_files(paths=paths)
    except ZooError as error:
        raise IncompatibleInput(str(error)) from error
    shape = source.pixels.shape
    differences = [
        float(np.abs(volume.pixels[k] - source.pixels).max())
        if volume.pixels[k].shape == shape
        else float("inf")
        for k in range(volume.slice_count)
    ]
    shown = int(np.argmin(differences))
    if differences[shown] > 1e-3 * (float(np.abs(source.pixels).max()) + 1.0):
        raise IncompatibleInput(
            "This lab shows a volume model's result on the series' own images; this series "
            "is stored in a plane the model reorients, so the two cannot be shown together."
        )
    return volume, shown


def _slice_of(output: ModelOutput, index: int) -> ModelOutput:
    """A volume model's segmentation on one slice (what the lab draws and compares)."""
    if not isinstance(output, SegmentationOutput) or output.labels.ndim != 3:
        return output
    return SegmentationOutput(
        labels=output.labels[index],
        confidence=output.confidence[index],
        class_names=output.class_names,
        case=output.case,
    )


def _volume_metrics(
    original: ModelOutput, perturbed: ModelOutput | None, *, spacing_mm
) -> dict[str, float]:
    """Whole-volume figures a slice cannot show: each structure's volume, and its overlap
    with the original's over every slice."""
    if not isinstance(original, SegmentationOutput) or original.labels.ndim != 3:
        return {}
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    metrics = {}
    for index, name in enumerate(original.class_names[1:], start=1):
        metrics[f"{name} volume (mL), original"] = (
            float((original.labels == index).sum()) * voxel_ml
        )
        if perturbed is not None:
            metrics[f"{name} volume (mL), perturbed"] = (
                float((perturbed.labels == index).sum()) * voxel_ml
            )
            metrics[f"dice vs original, whole volume: {name}"] = binary_dice(
                perturbed.labels == index, original.labels == index
            )
    return metrics


def _volume_lab_compute(
    *,
    model,
    request: LabRequest,
    source: SourceSlice,
    paths: list[Path],
    seg_paths,
    on_progress: ProgressCallback,
    on_partial,
) -> LabResult:
    """A lab on a volume model (deepbet reads a whole head): the series is read, perturbed
    as a volume (slice k with seed + k), run through the model before and after, and shown
    on the image the resident chose; the metrics add the whole-volume figures."""
    on_progress(10, "Reading the whole series")
    volume, shown = _series_volume(paths=paths, source=source)
    on_progress(20, "Running the model on the original series")
    try:
        original_output = model.predict(volume)
    except ZooError as error:
        raise IncompatibleInput(str(error)) from error
    result = LabResult(
        request=request,
        source=source,
        original=volume.pixels[shown],
        prediction_original=_slice_of(original_output, shown),
    )
    perturbed_output = None
    if request.perturbation_key:
        perturbation = lab_perturbation_get(request.perturbation_key)
        if source.modality not in perturbation.modalities:
            raise IncompatibleInput(f"{perturbation.title} does not apply to {source.modality}.")
        on_progress(45, f"Applying {perturbation.title.lower()} to every image")
        perturbation = perturbation.at_pixel_spacing(
            float(np.sqrt(volume.spacing_mm[1] * volume.spacing_mm[2]))
        )
        changed = perturbation.apply(volume.pixels, severity=request.severity, seed=request.seed)
        perturbed_volume = ImageVolume(
            pixels=changed,
            spacing_mm=volume.spacing_mm,
            modality=volume.modality,
            description=volume.description,
        )
        on_progress(60, "Running the model on the perturbed series")
        try:
            perturbed_output = model.predict(perturbed_volume)
        except ZooError as error:
            raise IncompatibleInput(str(error)) from error
        result.perturbed = changed[shown]
        result.prediction_perturbed = _slice_of(perturbed_output, shown)
    result.metrics = _output_metrics(result.prediction_original, result.prediction_perturbed)
    result.metrics.update(
        _volume_metrics(original_output, perturbed_output, spacing_mm=volume.spacing_mm)
    )
    result.metrics.update(_truth_metrics(result, list(seg_paths)))
    result.metrics.update(_pixel_change_metrics(result))
    result.metrics = finite_metrics(result.metrics)
    if on_partial is not None:
        on_partial(result)
    return result


def finite_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """JSON has no infinity: an unchanged image has no PSNR rather than an infinite one."""
    return {name: value for name, value in metrics.items() if np.isfinite(value)}


def break_it_compute(
    *,
    study_key: str,
    model_key: str,
    perturbation_key: str,
    severity: float,
    seed: int,
    slice_index: int = 0,
    on_progress: ProgressCallback = _no_progress,
) -> LabResult:
    """A break-it run without explainers (the round-trip benchmark's computation)."""
    from labs.selectors import study_image_paths

    return lab_compute(
        request=LabRequest(
            kind="break-it",
            study_key=study_key,
            model_key=model_key,
            slice_index=slice_index,
            perturbation_key=perturbation_key,
            severity=severity,
            seed=seed,
        ),
        paths=study_image_paths(study_key=study_key),
        on_progress=on_progress,
    )
