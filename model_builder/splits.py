"""Train/test splits: by patient (honest) and by image (leaky, kept as a lesson).

Both return a boolean array, True for images in the training set, and hold out about
`test_fraction` of the images. Both stratify by label so the test set has both classes.
"""

from __future__ import annotations

import numpy as np

SPLITS = ("patient", "image")


def patient_level_split(
    *, patient_ids: np.ndarray, labels: np.ndarray, test_fraction: float, seed: int
) -> np.ndarray:
    """Every image of a patient lands on the same side: no patient is in train and test.

    Patients are stratified by whether any of their images is positive.
    """
    rng = np.random.default_rng(seed)
    patients = np.unique(patient_ids)
    positive = {p: bool(labels[patient_ids == p].any()) for p in patients}
    test_patients: set[str] = set()
    for group in (True, False):
        members = np.array([p for p in patients if positive[p] == group])
        rng.shuffle(members)
        count = round(len(members) * test_fraction)
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        test_patients.update(members[:count].tolist())
    return ~np.isin(patient_ids, list(test_patients))


def image_level_split(*, labels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Images are shuffled one by one: views of the same patient fall on both sides."""
    rng = np.random.default_rng(seed)
    is_train = np.ones(len(labels), dtype=bool)
    for group in (1, 0):
        members = np.flatnonzero(labels == group)
        rng.shuffle(members)
        count = round(len(members) * test_fraction)
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        is_train[members[:count]] = False
    return is_train


def patients_on_both_sides(*, patient_ids: np.ndarray, is_train: np.ndarray) -> set[str]:
    """Patients with images in training and in test (empty for a patient-level split)."""
    return set(patient_ids[is_train].tolist()) & set(patient_ids[~is_train].tolist())


def split_make(
    *, kind: str, patient_ids: np.ndarray, labels: np.ndarray, test_fraction: float, seed: int
) -> np.ndarray:
    if kind == "patient":
        return patient_level_split(
            patient_ids=patient_ids, labels=labels, test_fraction=test_fraction, seed=seed
        )
    if kind == "image":
        return image_level_split(labels=labels, test_fraction=test_fraction, seed=seed)
    raise ValueError(f"Unknown split {kind!r}; choose one of {', '.join(SPLITS)}.")
