"""Shared steps of the lab-engine tests: exercises authored like an educator would, and the
chest CT from the study library, built once per session and indexed where a test needs it."""

from __future__ import annotations

from pathlib import Path

import pytest


def offer(key, low=None, high=None, default=None) -> dict:
    """One authored perturbation offer, as the exercise's StreamField stores it."""
    return {
        "type": "perturbation",
        "value": {
            "perturbation": key,
            "severity_min": low,
            "severity_max": high,
            "severity_default": default,
        },
    }


def question(prompt: str, block_id: str) -> dict:
    return {"type": "question", "value": prompt, "id": block_id}


def exercise_make(**fields):
    from labs.models import LabExercise

    defaults = {
        "title": "Engine test lab",
        "kind": "break-it",
        "model_key": "ct-tissue",
        "study_key": "ct-small",
        "perturbations": [offer("gaussian-noise", 0, 200, 50)],
    }
    return LabExercise.objects.create(**{**defaults, **fields})


def lesson_embed(lesson, exercise) -> None:
    """Add a lab block for `exercise` to a lesson, published (as an educator would)."""
    lesson.body.append(("lab", {"exercise": exercise, "introduction": ""}))
    lesson.save_revision().publish()


@pytest.fixture(scope="session")
def chest_ct_library(tmp_path_factory) -> Path:
    """The 133-slice 512 x 512 chest CT (+ its SEG), built from the cached sources."""
    from studies.library.sources import DEFAULT_CACHE_DIR, sources_cached
    from tests.library_builds import library_with

    if not sources_cached(cache_dir=DEFAULT_CACHE_DIR):
        pytest.skip("study sources are not cached: run `python -m studies.library fetch`")
    return library_with(tmp_path_factory, ["chest-ct"], name="lab-library")


def library_index(root: Path, settings) -> None:
    """Index the built library for this test (and point MEDIA_ROOT/library at it, where a
    worker subprocess looks, since it reads MEDIA_ROOT from its environment)."""
    from studies.services import library_index_rebuild

    media_library = Path(settings.MEDIA_ROOT) / "library"
    media_library.parent.mkdir(parents=True, exist_ok=True)
    if not media_library.exists():
        media_library.symlink_to(root, target_is_directory=True)
    settings.STUDY_LIBRARY_ROOT = media_library
    library_index_rebuild(root=media_library)


def left_kidney_box(*, image_number: int) -> tuple[str, list[list[float]]]:
    """The SOP Instance UID of the image and the viewer's corners of a box drawn round the
    left kidney there (taken from the library's own SEG, as a careful reader would)."""
    import numpy as np
    import pydicom

    from labs import selectors
    from labs.computation import seg_truth_masks

    paths = selectors.study_image_paths(study_key="chest-ct")
    uid = str(pydicom.dcmread(paths[image_number - 1], stop_before_pixels=True).SOPInstanceUID)
    kidney = seg_truth_masks(
        seg_paths=selectors.study_seg_paths(study_key="chest-ct"),
        source_uid=uid,
        labels={"left kidney"},
        shape=(512, 512),
    )["left kidney"]
    rows, columns = np.nonzero(kidney)
    # Viewer corners: (0, 0) is the top-left corner of the first pixel.
    return uid, [
        [float(columns.min()), float(rows.min())],
        [float(columns.max() + 1), float(rows.max() + 1)],
    ]
