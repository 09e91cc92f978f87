"""Defacing (issue 15): on the real Colin27 head the face region is removed and the brain is
not touched, at every severity offered; the reference brain is ch2bet, shipped with it."""

from __future__ import annotations

import numpy as np
import pytest

from studies.library.sources import MRICRON_DATA, SourceFile, source_file_locate
from zoo.perturbations.registry import PERTURBATIONS, perturbation_get
from zoo.series import volume_from_nifti_file


def _template(name: str, modality: str) -> np.ndarray:
    path = source_file_locate(
        file=SourceFile(source=MRICRON_DATA, path=f"usr/share/mricron/templates/{name}")
    )
    return volume_from_nifti_file(path=path, modality=modality).pixels


@pytest.fixture(scope="module")
def colin27():
    """(T1 head volume, brain mask): slices inferior to superior, rows anterior first."""
    return _template("ch2.nii.gz", "MR"), _template("ch2bet.nii.gz", "SEG") > 0


def test_registered_for_mr_only():
    defacing = PERTURBATIONS["mr-defacing"]
    assert defacing.modalities == frozenset({"MR"})
    assert defacing.severity_unit.endswith("(mm)")


@pytest.mark.parametrize("severity", [10.0, 25.0, 40.0])
def test_the_face_is_removed_and_the_brain_is_not(colin27, severity):
    head, brain = colin27
    defaced = perturbation_get("mr-defacing").apply(head, severity=severity, seed=0)
    changed = defaced != head
    # The brain, every voxel of it, is exactly as it was.
    assert not (changed & brain).any()
    assert np.array_equal(defaced[brain], head[brain])
    # The face is gone: head tissue in front, below the brow, now reads as background.
    assert changed.sum() > 10_000
    assert np.all(defaced[changed] == head.min())
    slices, rows, _cols = np.nonzero(changed)
    assert slices.max() < 0.4 * head.shape[0]  # below the brow
    assert rows.max() < severity + 10  # within the depth asked, behind the front of the head
    # The tip of the nose region (front rows of the lowest face slices) is background.
    face = (slice(20, 40), slice(0, int(severity) // 2))
    tissue = head[face] > 0.15 * np.percentile(head, 99)
    assert tissue.any() and np.all(defaced[face][tissue] == head.min())


def test_more_depth_removes_more_and_zero_removes_nothing(colin27):
    head, _brain = colin27
    defacing = perturbation_get("mr-defacing")
    removed = [int((defacing.apply(head, severity=s, seed=0) != head).sum()) for s in (0, 20, 40)]
    assert removed[0] == 0 and removed[0] < removed[1] < removed[2]
    # Lengths are millimetres: on 2 mm pixels the same depth is half as many rows.
    coarse = defacing.at_pixel_spacing(2.0).face_mask(head, severity=20.0)
    assert coarse.sum() < defacing.face_mask(head, severity=20.0).sum()


def test_a_single_slice_loses_its_front(colin27):
    head, _brain = colin27
    axial = head[30]
    defaced = perturbation_get("mr-defacing").apply(axial, severity=20.0, seed=0)
    assert defaced.shape == axial.shape
    changed = defaced != axial
    assert changed.any() and np.nonzero(changed)[0].max() < 30
