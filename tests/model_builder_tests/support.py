"""Shared by the model builder's tests: a tiny configuration that trains in seconds."""

from __future__ import annotations

import time

TINY = {
    "cohort": "lesions",
    "lesion_patients": 20,
    "split": "patient",
    "model_size": "small",
    "epochs": 2,
    "learning_rate": "fast",
    "augmentations": ["flip", "noise"],
    "seed": 4,
}


def wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}")
