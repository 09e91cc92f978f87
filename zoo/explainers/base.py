"""The one interface every explainer (saliency method) implements.

An explainer answers "which pixels moved this model's score?" for one 2-D image:

    image (modality units)  --model.preprocess-->  the network's input tensor
                            --attribute-->         attribution on the input grid
                            --back to the image--> SaliencyMap on the image's own grid, in [0, 1]

The score explained is one number per image (`saliency_score_module`): a class logit for
classifiers, the lesion-present logit for the CT lesion finder, and for segmenters the
mean logit of one class over the pixels the model gave that class. Methods run on the CPU.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from zoo.base import ImageVolume, PreparedInput, ZooError, ZooModel

# What "nothing here" means in modality units: air for CT (-1000 HU), black elsewhere.
EMPTY_VALUE_BY_MODALITY = {"CT": -1000.0}
# How many input values one batched pass may carry (IG's steps, occlusion's copies). On a
# 2-core CPU worker a batch pays off only while its activations stay near the caches:
# measured 2026-12-04 on an idle machine, the lesion finder (2 x 260 x 260 per image) was
# fastest at 2-4 images a pass (IG 0.8 s, occlusion 1.9 s) and 2.5x slower at 29 (IG 2.0 s,
# occlusion 4.7 s: most of the extra time is the kernel handing out fresh pages), while
# the radiograph classifier (2 x 128 x 128) was fastest at 8-16. Both optima sit near half
# a million values a pass; a 1024 x 1024 input goes one image at a time.
MAX_BATCH_INPUT_VALUES = 550_000
# The sandbox refuses more than zoo.sandbox.MAX_BATCH images per pass; stay well below.
MAX_BATCH_IMAGES = 32


def batch_size_for(inputs: torch.Tensor, wanted: int) -> int:
    """Images per batched pass for copies of `inputs` (one image), at most `wanted`."""
    per_image = max(1, int(inputs[0].numel()))
    return max(1, min(wanted, MAX_BATCH_IMAGES, MAX_BATCH_INPUT_VALUES // per_image))


@dataclass(frozen=True)
class SaliencyMap:
    """A saliency map on the image's own (rows, columns) grid.

    `values` is float32 in [0, 1] (1 = the strongest evidence in this image; maps of two
    images are not comparable in absolute terms). The raw_* numbers describe the
    attribution before normalisation, in the units of the explained score.
    """

    values: np.ndarray
    explainer_key: str
    target: str  # the score explained, in words
    target_index: int  # the class explained (pass it back as `target` to explain it again)
    raw_min: float
    raw_max: float
    raw_sum: float


class ScoreModule(nn.Module):
    """A network reduced to one score per image, as captum's attribution methods expect.

    `class_index` picks the output channel. For a segmentation output (batch, classes,
    rows, columns) the score is the mean logit of that class over `region` (the pixels the
    unperturbed model assigned to it), so the map explains "why did you call these pixels
    lesion/fat/bone", not every pixel's vote at once.
    """

    def __init__(
        self, network: nn.Module, *, class_index: int, region: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.network = network
        self.class_index = class_index
        self.region = region

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        output = self.network(inputs)
        if isinstance(output, tuple):
            output = output[0]
        if output.ndim == 2:
            return output[:, self.class_index]
        logits = output[:, self.class_index]
        if self.region is None:
            return logits.mean(dim=(-2, -1))
        region = self.region.to(logits.dtype)
        return (logits * region).sum(dim=(-2, -1)) / region.sum().clamp(min=1.0)


def module_by_name(network: nn.Module, dotted_name: str) -> nn.Module:
    """The submodule of `network` at `dotted_name` ("" is the network itself)."""
    module = network
    for part in dotted_name.split(".") if dotted_name else ():
        module = getattr(module, part)
    return module


def network_output(network: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """One forward pass without gradients; the first output where a network returns two."""
    with torch.no_grad():
        output = network(inputs)
    return output[0] if isinstance(output, tuple) else output


def saliency_score_module(
    *,
    network: nn.Module,
    inputs: torch.Tensor,
    target: int | None,
    output: torch.Tensor | None = None,
) -> tuple[ScoreModule, str]:
    """The score to explain for this network and input, and its description in words.

    Classification-shaped outputs (batch, classes): `target` is the class index, by default
    the predicted class (a single-logit output, like the lesion finder's case logit, is
    index 0). Segmentation outputs (batch, classes, rows, columns): `target` is the class
    whose predicted region is explained, by default the most frequent non-background class
    (index 0 is taken as background); a one-channel output is read as logits > 0.
    `output` is the network's output on `inputs` where the caller already has it.
    """
    if output is None:
        output = network_output(network, inputs)
    if output.ndim == 2:
        index = int(output[0].argmax()) if target is None else int(target)
        described = "the lesion-present logit" if output.shape[1] == 1 else f"logit {index}"
        return ScoreModule(network, class_index=index), described
    if output.ndim != 4:
        raise ZooError(f"Explainers read 2-D outputs; this network gave {tuple(output.shape)}.")
    if output.shape[1] == 1:
        region = output[0, 0] > 0
        index = 0
    else:
        labels = output[0].argmax(0)
        if target is None:
            counts = torch.bincount(labels.flatten(), minlength=output.shape[1])[1:]
            index = int(counts.argmax()) + 1 if counts.sum() else 0
        else:
            index = int(target)
        region = labels == index
    if not region.any():
        region = None  # nothing predicted: explain the class's mean logit over the image
    return ScoreModule(network, class_index=index, region=region), (
        f"mean logit of class {index} over its predicted pixels"
    )


def image_volume(model: ZooModel, image: np.ndarray | ImageVolume) -> ImageVolume:
    """A bare 2-D array is one image of the model's modality at 1 mm pixels (as `predict`)."""
    if isinstance(image, ImageVolume):
        return image
    return ImageVolume.from_slice(image=image, modality=model.modality)


def empty_input(model: ZooModel, volume: ImageVolume) -> torch.Tensor:
    """The model's input for an image of nothing (air for CT), on the same grid.

    Baselines live in the model's input space, so an "air" baseline goes through the
    model's own preprocessing (windows, scaling) rather than being a guessed zero tensor.
    """
    empty = np.full_like(volume.pixels, EMPTY_VALUE_BY_MODALITY.get(volume.modality, 0.0))
    blank = ImageVolume(pixels=empty, spacing_mm=volume.spacing_mm, modality=volume.modality)
    return model.preprocess(blank).tensor


def to_image_grid(
    attribution: np.ndarray, *, prepared: PreparedInput, image_shape: tuple[int, int]
) -> np.ndarray:
    """An (rows, columns) map on the network's input grid -> the image's grid.

    Models that resample and pad (context "resampled_size") are cropped to the resampled
    image first, then zoomed (bilinear) to the image's size.
    """
    resampled = prepared.context.get("resampled_size")
    if resampled is not None:
        attribution = attribution[: resampled[0], : resampled[1]]
    if attribution.shape != tuple(image_shape):
        zoom = (image_shape[0] / attribution.shape[0], image_shape[1] / attribution.shape[1])
        attribution = ndimage.zoom(attribution, zoom, order=1, grid_mode=True, mode="nearest")
    return attribution.astype(np.float32)


@dataclass
class ExplanationInput:
    """What every explainer of one image on one network needs, computed once.

    The model's preprocessing, the baseline and the first forward pass (which picks the
    class and, for segmenters, the region explained) are the same for Grad-CAM, IG and
    occlusion of the same image, so a lab showing all three pays for them once. Score
    modules are kept per target for the same reason.
    """

    volume: ImageVolume
    prepared: PreparedInput
    network: nn.Module
    layer: nn.Module
    inputs: torch.Tensor
    baseline: torch.Tensor
    output: torch.Tensor
    _scores: dict = field(default_factory=dict, repr=False)

    def score(self, target: int | None) -> tuple[ScoreModule, str]:
        if target not in self._scores:
            self._scores[target] = saliency_score_module(
                network=self.network, inputs=self.inputs, target=target, output=self.output
            )
        return self._scores[target]


def explanation_input(
    *, model: ZooModel, image: np.ndarray | ImageVolume, network: nn.Module | None = None
) -> ExplanationInput:
    """Check and prepare one 2-D image for explaining (ZooError when the model refuses it).

    `network` replaces `model.network()` (the randomisation check passes scrambled copies);
    its `model.saliency_layer` is the layer Grad-CAM reads.
    """
    volume = image_volume(model, image)
    model.input_spec.check(volume=volume, model_title=model.title)
    if volume.slice_count != 1:
        raise ZooError("Explainers read one image at a time; choose a slice.")
    if network is None:
        # The model's own choice of layer, so an upload that overrides it is honoured.
        network, layer = model.network(), model.saliency_module()
    else:
        layer = module_by_name(network, model.saliency_layer)
    prepared = model.preprocess(volume)
    device = next(network.parameters()).device
    inputs = prepared.tensor.to(device)
    return ExplanationInput(
        volume=volume,
        prepared=prepared,
        network=network,
        layer=layer,
        inputs=inputs,
        baseline=empty_input(model, volume).to(device),
        output=network_output(network, inputs),
    )


class Explainer(ABC):
    """A saliency method residents can run on any 2-D zoo model and question.

    `explanation` tells a radiologist what the map means and where it misleads.
    `polarity` says how signed attributions become a map: "positive" keeps evidence for the
    score, "absolute" keeps evidence either way.
    """

    key: str
    title: str
    explanation: str
    polarity: str = "positive"
    # Forward and backward passes through the network per map (each image of a batched
    # pass counts), besides the first forward pass an ExplanationInput shares. What
    # settings.LAB_RUN_MAX_NETWORK_PASSES bounds.
    network_passes: int = 1

    @abstractmethod
    def attribute(
        self,
        *,
        score: ScoreModule,
        layer: nn.Module,
        inputs: torch.Tensor,
        baseline: torch.Tensor,
    ) -> torch.Tensor:
        """Attribution on the input grid, shape (rows, columns), channels summed."""

    def explain(
        self,
        *,
        model: ZooModel,
        image: np.ndarray | ImageVolume,
        target: int | None = None,
        network: nn.Module | None = None,
        prepared: ExplanationInput | None = None,
    ) -> SaliencyMap:
        """The map for one 2-D image, on the image's own grid, float32 in [0, 1], finite.

        `target` as in `saliency_score_module`; `network` as in `explanation_input`.
        `prepared` is that image already prepared (then `image` and `network` are not read
        again), so several explainers of one image share its preprocessing and first
        forward pass. Raises ZooError for inputs the model does not accept.
        """
        if prepared is None:
            prepared = explanation_input(model=model, image=image, network=network)
        score, described = prepared.score(target)
        with torch.enable_grad():
            raw = self.attribute(
                score=score,
                layer=prepared.layer,
                inputs=prepared.inputs,
                baseline=prepared.baseline,
            )
        raw = np.nan_to_num(raw.detach().float().cpu().numpy())
        shaped = np.abs(raw) if self.polarity == "absolute" else np.maximum(raw, 0.0)
        on_grid = np.maximum(
            to_image_grid(
                shaped,
                prepared=prepared.prepared,
                image_shape=prepared.volume.pixels.shape[1:],
            ),
            0.0,
        )
        peak = float(on_grid.max())
        values = on_grid / peak if peak > 0 else np.zeros_like(on_grid)
        return SaliencyMap(
            values=np.clip(values, 0.0, 1.0).astype(np.float32),
            explainer_key=self.key,
            target=described,
            target_index=score.class_index,
            raw_min=float(raw.min()),
            raw_max=float(raw.max()),
            raw_sum=float(raw.sum()),
        )
