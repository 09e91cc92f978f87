"""Radiograph-like projections of the real chest CT, with and without simulated nodules.

Each case is a digitally reconstructed radiograph (DRR): HU become linear attenuation
(mu = mu_water * (1 + HU / 1000), air 0), summed along the anterior-posterior axis, so
bright means more attenuation, like a processed chest film. Projection is linear, so a
nodule adds its own line integral to the CT's: the CT is projected once and each nodule
is a sphere's chord length times its attenuation excess over the lung at its centre.

Virtual radiography systems vary positioning (rotation, scale, shift), contrast (gamma),
detector blur and noise. Held-out nodules sit on axial levels never used in training
(`ct_lesions.level_is_held_out`).

Limits: one patient's anatomy in every image (positives and negatives differ only by the
nodule and the augmentation); a parallel-beam projection of a supine CT, not a PA erect
film with magnification and scatter; the CT covers 33 cm of the trunk, so the lung
apices and costophrenic angles of a real PA film are partly missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import ndimage

from zoo.cohorts import ct_lesions

MU_WATER_PER_MM = 0.0195  # ~70 keV effective energy
SIZE = 128
PIXEL_MM = 2.8
# Solid nodules and masses: below ~15 mm a 2.8 mm-pixel film barely shows them (their
# chord adds < 3 % of the chest's attenuation), which is also where readers miss them.
DIAMETER_RANGE_MM = (15.0, 45.0)


@dataclass(frozen=True)
class RadiographCohort:
    images: np.ndarray  # float32 (cases, 128, 128), normalised to [0, 1]
    has_nodule: np.ndarray  # bool
    diameter_mm: np.ndarray  # 0 for negatives
    centre_pixel: np.ndarray  # (cases, 2) where the nodule's centre lies on the film; NaN if none

    def __len__(self) -> int:
        return int(self.images.shape[0])


def attenuation_from_hu(hu: np.ndarray) -> np.ndarray:
    return np.maximum(MU_WATER_PER_MM * (1.0 + hu / 1000.0), 0.0).astype(np.float32)


@cache
def projection_base() -> np.ndarray:
    """Line integrals of the CT along A-P on a 128 x 128 grid of 2.8 mm, superior at the top."""
    source = ct_lesions.source_ct_load()
    slices_mm, rows_mm, columns_mm = source.spacing_mm
    line = attenuation_from_hu(source.hu).sum(axis=1) * rows_mm  # (slices S->, columns L)
    line = line[::-1]  # superior first, as a film is hung
    zoom = (slices_mm / PIXEL_MM, columns_mm / PIXEL_MM)
    resampled = ndimage.zoom(line, zoom, order=1)
    canvas = np.zeros((SIZE, SIZE), dtype=np.float32)
    rows, columns = min(SIZE, resampled.shape[0]), min(SIZE, resampled.shape[1])
    top = (SIZE - rows) // 2
    canvas[top : top + rows, :columns] = resampled[:rows, :columns]
    return canvas


def _projection_pixel(*, voxel: tuple[int, int, int]) -> tuple[float, float]:
    """Where a CT voxel lands on the projection grid (row, column)."""
    source = ct_lesions.source_ct_load()
    slices = source.hu.shape[0]
    rows_resampled = slices * source.spacing_mm[0] / PIXEL_MM
    top = (SIZE - min(SIZE, round(rows_resampled))) // 2
    row = top + (slices - 1 - voxel[0]) * source.spacing_mm[0] / PIXEL_MM
    column = voxel[2] * source.spacing_mm[2] / PIXEL_MM
    return float(row), float(column)


def nodule_projection(
    *, centre_pixel: tuple[float, float], diameter_mm: float, excess_mu: float
) -> np.ndarray:
    """Chord length x attenuation excess of a sphere, softened by a 1 mm margin."""
    rows, columns = np.meshgrid(np.arange(SIZE), np.arange(SIZE), indexing="ij")
    distance_mm = np.hypot(rows - centre_pixel[0], columns - centre_pixel[1]) * PIXEL_MM
    radius = diameter_mm / 2.0
    chord = 2.0 * np.sqrt(np.clip(radius**2 - distance_mm**2, 0.0, None))
    return ndimage.gaussian_filter(chord * excess_mu, sigma=1.0 / PIXEL_MM).astype(np.float32)


def radiograph_normalise(image: np.ndarray) -> np.ndarray:
    """Percentiles 1-99 of the image to [0, 1]: the same rule for DRRs and real films."""
    low, high = np.percentile(image, [1.0, 99.0])
    return np.clip((image - low) / max(high - low, 1e-6), 0.0, 1.0).astype(np.float32)


def radiograph_system_apply(
    *, line_integrals: np.ndarray, rng: np.random.Generator, point: tuple[float, float]
) -> tuple[np.ndarray, tuple[float, float]]:
    """Positioning, contrast, blur and noise of a random virtual radiography system.

    Returns the film and where `point` (row, column) of the projection lands on it.
    """
    angle = np.deg2rad(rng.uniform(-3.0, 3.0))
    scale = rng.uniform(0.95, 1.05)
    shift = rng.uniform(-5.0, 5.0, size=2)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / scale
    centre = np.array([SIZE / 2, SIZE / 2])
    offset = centre - rotation @ (centre + shift)
    moved = ndimage.affine_transform(line_integrals, rotation, offset=offset, order=1)
    image = radiograph_normalise(moved) ** rng.uniform(0.7, 1.4)
    image = ndimage.gaussian_filter(image, sigma=rng.uniform(0.0, 0.7))
    image = image + rng.normal(0.0, rng.uniform(0.005, 0.02), size=image.shape)
    # affine_transform reads input = rotation @ output + offset; invert it for the point.
    moved_point = np.linalg.solve(rotation, np.asarray(point, dtype=float) - offset)
    return np.clip(image, 0.0, 1.0).astype(np.float32), (
        float(moved_point[0]),
        float(moved_point[1]),
    )


def cohort_radiographs_build(*, cases: int, held_out: bool, seed: int) -> RadiographCohort:
    """Deterministic: the same arguments give the same images. Every other case is positive."""
    rng = np.random.default_rng(seed)
    source = ct_lesions.source_ct_load()
    base = projection_base()
    candidates = ct_lesions._candidate_centres("lung", held_out)
    images, positives, diameters, centres = [], [], [], []
    for index in range(cases):
        line_integrals = base
        positive = index % 2 == 1
        diameter, centre = 0.0, (np.nan, np.nan)
        if positive:
            voxel = tuple(int(v) for v in candidates[rng.integers(len(candidates))])
            diameter = float(rng.uniform(*DIAMETER_RANGE_MM))
            nodule_hu = float(rng.normal(35.0, 20.0))
            excess = MU_WATER_PER_MM * (nodule_hu - float(source.hu[voxel])) / 1000.0
            centre = _projection_pixel(voxel=voxel)
            line_integrals = base + nodule_projection(
                centre_pixel=centre, diameter_mm=diameter, excess_mu=max(excess, 0.0)
            )
        image, centre = radiograph_system_apply(
            line_integrals=line_integrals, rng=rng, point=centre
        )
        images.append(image)
        positives.append(positive)
        diameters.append(diameter)
        centres.append(centre)
    return RadiographCohort(
        images=np.stack(images),
        has_nodule=np.array(positives),
        diameter_mm=np.array(diameters),
        centre_pixel=np.array(centres, dtype=float),
    )
