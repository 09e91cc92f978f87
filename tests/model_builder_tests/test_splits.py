"""The two splits: by patient nobody crosses over; by image, patients land on both sides."""

import numpy as np

from model_builder.lesion_patients import lesion_patients_build, view_slice_offsets
from model_builder.splits import (
    image_level_split,
    patient_level_split,
    patients_on_both_sides,
)


def _cohort_facts(patients=40, views=3):
    ids = np.repeat([f"P{i:03d}" for i in range(patients)], views)
    labels = np.repeat(np.arange(patients) % 2, views)
    return ids, labels


def test_patient_level_split_keeps_every_patient_on_one_side():
    ids, labels = _cohort_facts()
    for seed in range(5):
        is_train = patient_level_split(
            patient_ids=ids, labels=labels, test_fraction=0.25, seed=seed
        )
        assert patients_on_both_sides(patient_ids=ids, is_train=is_train) == set()
        # About a quarter held out, both classes in each side.
        assert 0.2 <= (~is_train).mean() <= 0.3
        assert set(labels[~is_train]) == {0, 1} and set(labels[is_train]) == {0, 1}


def test_image_level_split_puts_patients_on_both_sides():
    ids, labels = _cohort_facts()
    is_train = image_level_split(labels=labels, test_fraction=0.25, seed=0)
    crossing = patients_on_both_sides(patient_ids=ids, is_train=is_train)
    # With three views per patient and a quarter held out, most test patients cross over.
    assert len(crossing) >= 10
    assert 0.2 <= (~is_train).mean() <= 0.3


def test_lesion_patients_give_neighbouring_views_with_one_id():
    cohort = lesion_patients_build(patients=6, views=3, seed=5)
    assert cohort.images.shape == (18, 64, 64)
    assert list(cohort.patient_ids[:3]) == ["P0000"] * 3
    assert view_slice_offsets(5) == [0, 1, -1, 2, -2]
    # Negatives (even patients) never carry a lesion label; positives do on some view.
    negatives = cohort.labels.reshape(6, 3)[0::2]
    positives = cohort.labels.reshape(6, 3)[1::2]
    assert negatives.sum() == 0
    assert positives.any(axis=1).sum() >= 2
    # Views of one patient look alike (same anatomy, a few pixels apart); views of two
    # patients do not.
    views = cohort.images.reshape(6, 3, -1)
    same = [np.corrcoef(views[p, 0], views[p, 1])[0, 1] for p in range(6)]
    other = [np.corrcoef(views[p, 0], views[(p + 1) % 6, 0])[0, 1] for p in range(6)]
    assert np.median(same) > 0.5 > np.median(other)


def test_lesion_patients_are_reproducible():
    first = lesion_patients_build(patients=4, views=2, seed=9)
    again = lesion_patients_build(patients=4, views=2, seed=9)
    assert np.array_equal(first.images, again.images)
    assert np.array_equal(first.labels, again.labels)
