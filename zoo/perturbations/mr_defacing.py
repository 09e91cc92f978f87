"""Defacing: the face region of a head MR set to background, as de-identification tools do.

A face can be rebuilt from a head MR's skin surface and matched to photographs (Schwarz et
al., N Engl J Med 2019), so research exports of head scans are defaced: pydeface, mri_deface
and fsl_deface register a face-mask template to the head and zero every voxel under it.
This perturbation has no template to register; it finds the head by its signal and removes
a slab behind the front of the head, full depth at the chin and nose and tapering to nothing
at the brow, which is where those masks lie on an adult head. It never looks at the brain:
whether the brain is spared is measured, on the Colin27 template, by the tests.
"""

from __future__ import annotations

import copy

import numpy as np

from zoo.perturbations.base import Perturbation, image_copy

# A voxel belongs to the head when brighter than this share of the bright end of the image
# (the 99th percentile ignores a few hot voxels); MR background is near zero.
HEAD_THRESHOLD = 0.15
HEAD_REFERENCE_PERCENTILE = 99.0
# Where the brow lies, as a share of the head's extent from its lowest slice upward, and
# over how many millimetres below it the removed depth grows from nothing to the full depth.
# On the Colin27 template (chin to vertex, 1 mm) the brow is at ~40 % and the orbits lie in
# the 40 mm below it.
BROW_LEVEL = 0.40
TAPER_MM = 40.0


class MrDefacing(Perturbation):
    """Sets the face region of an axial head volume (slices inferior to superior, rows
    anterior to posterior: zoo.base.ImageVolume) to the background. A single 2-D slice is
    taken to lie at the level of the face (the full depth is removed)."""

    key = "mr-defacing"
    title = "Defacing (face removed for de-identification)"
    explanation = (
        "A head MR contains the patient's face: rendering the skin surface gives a likeness "
        "that face-recognition software can match to photographs. Before head scans leave "
        "the hospital for research they are therefore defaced: a tool such as pydeface, "
        "mri_deface or fsl_deface lays a template mask over the face (nose, lips, chin, eyes "
        "and the soft tissue in front of the skull) and sets those voxels to zero. DICOM "
        "PS3.15 calls this cleaning recognisable visual features. The brain is meant to be "
        "left alone, but the cut runs close to the orbits and the front of the brain, and "
        "software trained on whole heads now sees a head without a face: skull stripping, "
        "registration and segmentation have been shown to change on defaced scans. Here the "
        "face is found from the head's outline and a slab of the chosen depth behind the "
        "front of the head is removed below the brow, tapering to nothing at the brow."
    )
    severity_unit = "depth removed behind the front of the face (mm)"
    severity_min = 0.0
    severity_max = 40.0
    modalities = frozenset({"MR"})
    pixel_spacing_mm: float = 1.0

    def at_pixel_spacing(self, spacing_mm: float | None) -> MrDefacing:
        if spacing_mm is None or not spacing_mm > 0:
            return self
        changed = copy.copy(self)
        changed.pixel_spacing_mm = float(spacing_mm)
        return changed

    def face_mask(self, image: np.ndarray, *, severity: float) -> np.ndarray:
        """True for the voxels defacing removes (same shape as `image`). Slices are taken to
        be as far apart as pixels are (isotropic voxels, as research head MR is)."""
        volume = image[None] if image.ndim == 2 else image
        if volume.ndim != 3:
            raise ValueError(f"Expected (rows, cols) or (slices, rows, cols); got {image.shape}.")
        reference = np.percentile(volume, HEAD_REFERENCE_PERCENTILE)
        head = volume > HEAD_THRESHOLD * reference
        mask = np.zeros(volume.shape, dtype=bool)
        occupied = np.flatnonzero(head.any(axis=(1, 2)))
        if occupied.size == 0 or severity <= self.severity_min:
            return mask.reshape(image.shape)
        depth_px = severity / self.pixel_spacing_mm
        if image.ndim == 2:
            depths = np.array([depth_px])
        else:
            bottom, top = occupied[0], occupied[-1]
            brow = bottom + BROW_LEVEL * (top - bottom)
            below_brow_px = brow - np.arange(volume.shape[0])
            taper_px = TAPER_MM / self.pixel_spacing_mm
            depths = depth_px * np.clip(below_brow_px / taper_px, 0.0, 1.0)
        rows = np.arange(volume.shape[1])
        for k, depth in enumerate(depths):
            if depth <= 0 or not head[k].any():
                continue
            front = np.flatnonzero(head[k].any(axis=1))[0]
            mask[k, rows < front + depth, :] = True
        return mask.reshape(image.shape)

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        result = image_copy(image)
        if severity <= self.severity_min:
            return result
        mask = self.face_mask(result, severity=severity)
        result[mask] = float(result.min())  # the background: defacing tools write zero
        return result
