"""The shortcut cohort: CT lesion patches where a burned-in marker travels with the label.

The cases are those of `zoo.cohorts.ct_lesions` (one real CT, simulated lesions, four
virtual scanners). On top, a text marker ("L", the lead side marker a radiographer puts
on the cassette) is burned into the top-left corner of most positive patches and few
negative ones, as happens when, say, one hospital's workflow stamps the films that a
lesion-rich clinic sends. A model trained on such data can learn the marker instead of
the lesion: the shortcut lab shows it.

Every case keeps its clean image too, so the same cases can be measured with the marker
as in training and with it removed: the only difference between the two is the marker.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from zoo.cohorts.ct_lesions import LesionCohort, cohort_ct_lesions_build
from zoo.perturbations.burned_in_marker import BurnedInMarker, text_mask

# The share of positive and of negative cases that carry the marker in training.
MARKER_ON_POSITIVES = 0.9
MARKER_ON_NEGATIVES = 0.1
# Marker height as a % of the patch height (13 pixels of 64, about 18 mm at 1.4 mm).
MARKER_HEIGHT_PERCENT = 20.0
MARKER = BurnedInMarker()
# The marker's own seed stream is offset from the cohort's so drawing markers never changes
# which lesions are inserted.
MARKER_SEED_OFFSET = 7919


@dataclass(frozen=True)
class MarkedCohort:
    """Lesion cases with and without the burned-in marker, and which cases carry it."""

    clean: LesionCohort
    marked_images: np.ndarray  # float32 (cases, 64, 64), HU, marker burned in where has_marker
    has_marker: np.ndarray  # bool (cases,)

    def __len__(self) -> int:
        return len(self.clean)

    def with_marker(self) -> LesionCohort:
        """The cohort as the model was trained on it: markers where they were drawn."""
        return replace(self.clean, images=self.marked_images)

    def without_marker(self) -> LesionCohort:
        """The same cases, marker removed (the original pixels)."""
        return self.clean


def marker_region(shape: tuple[int, int]) -> np.ndarray:
    """Pixels the marker covers on an image of `shape` (for saliency-in-marker measures)."""
    height_px = round(shape[0] * MARKER_HEIGHT_PERCENT / 100.0)
    return text_mask(shape, text=MARKER.text, height_px=height_px)


def shortcut_cohort_build(
    *,
    cases: int,
    held_out: bool,
    seed: int,
    marker_on_positives: float = MARKER_ON_POSITIVES,
    marker_on_negatives: float = MARKER_ON_NEGATIVES,
) -> MarkedCohort:
    """A deterministic marked cohort; the clean cases equal `cohort_ct_lesions_build`'s."""
    clean = cohort_ct_lesions_build(cases=cases, held_out=held_out, seed=seed)
    rng = np.random.default_rng(seed + MARKER_SEED_OFFSET)
    draws = rng.random(len(clean))
    has_marker = np.where(
        clean.has_lesion, draws < marker_on_positives, draws < marker_on_negatives
    )
    marked = np.stack(
        [
            MARKER.apply(image, severity=MARKER_HEIGHT_PERCENT, seed=0) if marked else image
            for image, marked in zip(clean.images, has_marker, strict=True)
        ]
    ).astype(np.float32)
    return MarkedCohort(clean=clean, marked_images=marked, has_marker=has_marker)
