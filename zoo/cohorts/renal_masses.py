"""Renal masses of known extent inserted into the real chest/upper-abdomen CT, in 3-D.

The same method as the lesion cohort (`zoo.cohorts.ct_lesions`): a lobulated ellipsoid
with a sigmoid margin, 10-40 mm, solid (30-90 HU) or cystic (0-20 HU), blended into the
HU values and clipped to the kidney (`lesion_sample`, `lesion_insert`), so the reference
mask is known exactly (partial-volume fraction >= 0.5). Here each mass is kept at the
CT's own resolution (0.70 mm, 2.5 mm slices) over every slice it reaches, because a
promptable model is prompted slice by slice and its Dice is reported per slice and per
mass in 3-D (KiTS19 reports inter-reader agreement per case in 3-D).

One variant changes the contrast phase: before the mass goes in, kidney parenchyma is
lowered from its nephrographic ~210 HU to ~35 HU (`UNENHANCED_SHIFT_HU`), roughly an
unenhanced scan, so a solid mass loses most of its contrast with the kidney around it.

Limits, as for the lesion cohort: one patient, one scan; spherical-ish masses without
calcification, necrosis or exophytic growth; the scan stops below the kidneys' mid
portion (`kidney_coverage`), so masses are placed where the kidney is imaged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from zoo.cohorts.ct_lesions import (
    KIDNEY_LABELS,
    Lesion,
    SourceCt,
    lesion_insert,
    lesion_sample,
    source_ct_load,
)

# Nephrographic kidney here ~210 HU; unenhanced renal parenchyma ~30-40 HU.
UNENHANCED_SHIFT_HU = -175.0
# Adult kidneys are about 10-12 cm long craniocaudally (the usual textbook range).
TYPICAL_KIDNEY_LENGTH_MM = (100.0, 120.0)
INSERT_MARGIN_MM = 30.0  # half-size of the in-plane block a mass is inserted in


@dataclass(frozen=True)
class RenalMass:
    """One inserted mass: its HU slab (only the slices it reaches) and reference mask."""

    lesion: Lesion
    kidney_label: int
    insert_seed: int  # the lobulated surface's random field: the same seed, the same mass
    first_slice: int  # index of slab slice 0 in the source CT
    hu: np.ndarray  # float32 (slices, rows, columns): full slices with the mass
    mask: np.ndarray  # bool, same shape: partial-volume fraction >= 0.5
    kidney: np.ndarray  # bool, same shape: the library's label of that kidney

    @property
    def central(self) -> int:
        """Slab index of the slice where the mass is largest."""
        return int(np.argmax(self.mask.sum(axis=(1, 2))))


def kidney_coverage(source: SourceCt | None = None) -> dict[str, float]:
    """How much of each kidney the scan holds: its imaged length in mm, the number of
    slices, whether the lowest (or highest) slice still cuts through it, and the share of
    a typical 10-12 cm kidney that length is."""
    source = source or source_ct_load()
    facts: dict[str, float] = {}
    for name, label in (("right", KIDNEY_LABELS[0]), ("left", KIDNEY_LABELS[1])):
        areas = (source.labels == label).sum(axis=(1, 2))
        present = np.nonzero(areas)[0]
        length = float(len(present) * source.spacing_mm[0])
        largest = float(areas.max())
        facts[f"{name} kidney: imaged length (mm)"] = length
        facts[f"{name} kidney: cut by the scan's lower edge (area on first slice / largest)"] = (
            float(areas[0]) / largest
        )
        facts[f"{name} kidney: cut by the scan's upper edge (area on last slice / largest)"] = (
            float(areas[-1]) / largest
        )
        low, high = TYPICAL_KIDNEY_LENGTH_MM
        facts[f"{name} kidney: share of a typical kidney imaged, low"] = length / high
        facts[f"{name} kidney: share of a typical kidney imaged, high"] = length / low
    return facts


def _centres(source: SourceCt, label: int) -> np.ndarray:
    """Kidney voxels ~4 mm inside the organ in-plane, not on the scan's first or last
    two slices (a mass there would be cut by the scan's edge)."""
    inside = ndimage.binary_erosion(source.labels == label, structure=np.ones((1, 11, 11), bool))
    inside[:2] = inside[-2:] = False
    return np.argwhere(inside)


def renal_mass_build(*, rng: np.random.Generator, source: SourceCt | None = None) -> RenalMass:
    """One mass in a random kidney voxel, inserted into the full slices it reaches."""
    source = source or source_ct_load()
    label = KIDNEY_LABELS[int(rng.integers(2))]
    candidates = _centres(source, label)
    centre = tuple(int(v) for v in candidates[rng.integers(len(candidates))])
    lesion = lesion_sample(organ="kidney", centre=centre, rng=rng)
    return renal_mass_insert(
        lesion=lesion, kidney_label=label, insert_seed=int(rng.integers(2**31))
    )


def renal_mass_insert(
    *,
    lesion: Lesion,
    kidney_label: int,
    insert_seed: int,
    unenhanced: bool = False,
    source: SourceCt | None = None,
) -> RenalMass:
    """Insert `lesion` into a copy of the CT; `unenhanced` lowers the kidney first."""
    source = source or source_ct_load()
    rng = np.random.default_rng(insert_seed)
    spacing = source.spacing_mm
    reach_mm = lesion.diameter_mm / 2 * 1.3 + 2.0
    z, r, c = lesion.centre_voxel
    half_slices = int(np.ceil(reach_mm / spacing[0]))
    half_pixels = int(np.ceil(INSERT_MARGIN_MM / spacing[1]))
    first = max(0, z - half_slices)
    last = min(source.hu.shape[0], z + half_slices + 1)
    rows = slice(max(0, r - half_pixels), min(source.hu.shape[1], r + half_pixels + 1))
    columns = slice(max(0, c - half_pixels), min(source.hu.shape[2], c + half_pixels + 1))
    slab = source.hu[first:last].copy()
    kidney = source.labels[first:last] == kidney_label
    if unenhanced:
        slab[kidney] += UNENHANCED_SHIFT_HU
    block = slab[:, rows, columns]
    blended, fraction = lesion_insert(
        hu=block,
        organ_mask=kidney[:, rows, columns],
        origin=(first, rows.start, columns.start),
        spacing_mm=spacing,
        lesion=lesion,
        rng=rng,
    )
    slab[:, rows, columns] = blended
    mask = np.zeros(slab.shape, bool)
    mask[:, rows, columns] = fraction >= 0.5
    keep = np.nonzero(mask.any(axis=(1, 2)))[0]
    if keep.size == 0:
        keep = np.array([z - first])
    kept = slice(int(keep.min()), int(keep.max()) + 1)
    return RenalMass(
        lesion=lesion,
        kidney_label=kidney_label,
        insert_seed=insert_seed,
        first_slice=first + kept.start,
        hu=slab[kept],
        mask=mask[kept],
        kidney=kidney[kept],
    )


def renal_mass_cohort(*, masses: int, seed: int) -> list[RenalMass]:
    """A deterministic list of masses (the same arguments give the same arrays)."""
    rng = np.random.default_rng(seed)
    return [renal_mass_build(rng=rng) for _ in range(masses)]
