"""The reader study's cases: two matched arms of real CT patches and the AI's marks.

Cases come from the held-out CT lesion cohort (`zoo.cohorts.ct_lesions`: patches of one
real chest/upper-abdomen CT, half with an inserted lung nodule or renal mass of known
extent). Both arms hold the same number of lesion and lesion-free cases, split stratum by
stratum (organ, virtual scanner), so the arms differ only in which cases they hold.

The AI's marks are set by the study, not computed by a model: a correct mark boxes the
inserted lesion (or says "no lesion"); a deliberately wrong one misses a lesion or boxes a
lesion-free spot, on a seeded share of the aided arm's cases. This is how Dratsch et al.
built their study too: the reader's response to a known-wrong suggestion is the measure,
so the wrongness must be controlled, not left to a model's chance errors.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from zoo.cohorts import ct_lesions
from zoo.rendering import boxes_draw, png_bytes, window_to_grey

UNAIDED = "unaided"
AIDED = "aided"
COHORT_SEED = 16  # held-out levels; no model of the zoo is involved in this lab
UPSCALE = 4  # 64 x 64 patches drawn at 256 x 256 pixels
BOX_COLOUR = (255, 200, 0)
BOX_MARGIN = 2  # pixels around the lesion's mask


class PlanError(ValueError):
    """The cohort holds too few cases of a class for the arms asked for."""


def cohort_size_for(cases_per_arm: int) -> int:
    """Cases to build so each class has `cases_per_arm` members after positives whose
    lesion was clipped away are dropped (a few per hundred)."""
    return 2 * cases_per_arm + cases_per_arm // 2 + 8


@lru_cache(maxsize=4)
def cohort_load(cases: int, seed: int = COHORT_SEED) -> ct_lesions.LesionCohort:
    """The cohort, built once per process (every case picture of a study is cut from it)."""
    return ct_lesions.cohort_ct_lesions_build(cases=cases, held_out=True, seed=seed)


def _arms_split(cohort, *, cases_per_arm: int) -> dict[str, list[int]]:
    """Cohort indices per arm: half lesion, half lesion-free, strata split evenly."""
    half = cases_per_arm // 2
    arms = {UNAIDED: [], AIDED: []}
    held = {UNAIDED: {}, AIDED: {}}
    for positive in (True, False):
        in_class = {UNAIDED: [], AIDED: []}
        indices = [int(i) for i in np.flatnonzero(cohort.has_lesion == positive)][: 2 * half]
        if len(indices) < 2 * half:
            raise PlanError(f"The cohort holds only {len(indices)} cases of one class.")
        # Each case goes to the arm holding fewer of its stratum (organ, scanner) so far,
        # counting both classes, so the arms match within one case per stratum.
        for index in indices:
            stratum = (cohort.organ[index], cohort.scanner[index])
            open_arms = [arm for arm in arms if len(in_class[arm]) < half]
            arm = min(open_arms, key=lambda a: (held[a].get(stratum, 0), len(in_class[a])))
            arms[arm].append(index)
            in_class[arm].append(index)
            held[arm][stratum] = held[arm].get(stratum, 0) + 1
    return arms


def _lesion_box(mask: np.ndarray) -> list[int]:
    rows, columns = np.nonzero(mask)
    limit = mask.shape[0] - 1
    return [
        max(int(rows.min()) - BOX_MARGIN, 0),
        max(int(columns.min()) - BOX_MARGIN, 0),
        min(int(rows.max()) + BOX_MARGIN, limit),
        min(int(columns.max()) + BOX_MARGIN, limit),
    ]


def _false_box(image_hu: np.ndarray, organ: str, rng: np.random.Generator) -> list[int]:
    """A plausible false mark, where CAD marks falsely: in the lung, on a vessel (soft
    tissue with aerated lung around it); in the kidney, on enhancing parenchyma."""
    size = int(rng.integers(6, 13))
    inner = np.zeros(image_hu.shape, dtype=bool)
    inner[size:-size, size:-size] = True
    if organ == "lung":
        near_lung = ndimage.uniform_filter((image_hu < -700).astype(float), size=9) > 0.4
        spots = (image_hu > -300) & (image_hu < 150) & near_lung
    else:
        spots = (image_hu > 150) & (image_hu < 320)
    candidates = np.argwhere(inner & spots)
    if len(candidates) == 0:
        candidates = np.argwhere(inner)
    row, column = candidates[rng.integers(len(candidates))]
    half = size // 2
    return [int(row) - half, int(column) - half, int(row) + half, int(column) + half]


@lru_cache(maxsize=8)
def study_plan_build(*, cases_per_arm: int, wrong_share: float, seed: int) -> tuple[dict, ...]:
    """The study's cases in reading order: the unaided arm, then the aided arm.

    Deterministic in its arguments, so every resident of an exercise reads the same cases
    with the same marks in the same order (their results can be pooled). Of the aided arm,
    `round(wrong_share * cases_per_arm)` marks are wrong: half (rounded up) missed lesions,
    the rest false marks on lesion-free cases.
    """
    cohort = cohort_load(cohort_size_for(cases_per_arm))
    arms = _arms_split(cohort, cases_per_arm=cases_per_arm)
    rng = np.random.default_rng(seed)
    wrong_total = round(wrong_share * cases_per_arm)
    misses = (wrong_total + 1) // 2
    aided_positive = [i for i in arms[AIDED] if cohort.has_lesion[i]]
    aided_negative = [i for i in arms[AIDED] if not cohort.has_lesion[i]]
    wrong = set(rng.choice(aided_positive, size=misses, replace=False).tolist())
    wrong |= set(rng.choice(aided_negative, size=wrong_total - misses, replace=False).tolist())
    plan = []
    for arm in (UNAIDED, AIDED):
        for index in rng.permutation(arms[arm]).tolist():
            positive = bool(cohort.has_lesion[index])
            entry = {
                "arm": arm,
                "case": int(index),
                "positive": positive,
                "organ": str(cohort.organ[index]),
                "scanner": str(cohort.scanner[index]),
                "diameter_mm": round(float(cohort.diameter_mm[index]), 1),
                "ai_lesion": None,
                "ai_score": None,
                "ai_box": None,
                "ai_wrong": None,
            }
            if arm == AIDED:
                is_wrong = index in wrong
                says_lesion = positive != is_wrong
                entry["ai_wrong"] = is_wrong
                entry["ai_lesion"] = says_lesion
                entry["ai_score"] = round(
                    float(rng.uniform(0.72, 0.97) if says_lesion else rng.uniform(0.03, 0.25)), 2
                )
                if says_lesion:
                    entry["ai_box"] = (
                        _lesion_box(cohort.masks[index])
                        if positive
                        else _false_box(cohort.images[index], entry["organ"], rng)
                    )
            plan.append(entry)
    return tuple({**entry, "position": number} for number, entry in enumerate(plan))


def case_picture_png(*, cohort_cases: int, entry: dict, with_ai_mark: bool) -> bytes:
    """The windowed patch, with the AI's box drawn on it when the arm shows marks."""
    cohort = cohort_load(cohort_cases)
    centre, width = ct_lesions.ORGAN_WINDOWS[entry["organ"]]
    grey = window_to_grey(cohort.images[entry["case"]], centre=centre, width=width)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    if with_ai_mark and entry.get("ai_box"):
        big = np.repeat(np.repeat(rgb, UPSCALE, axis=0), UPSCALE, axis=1)
        box = np.array(entry["ai_box"]) * UPSCALE + np.array([0, 0, UPSCALE - 1, UPSCALE - 1])
        # Two pixels wide at display size, so the mark reads like a CAD box.
        boxes_draw(big, box, colour=BOX_COLOUR)
        boxes_draw(big, box + np.array([1, 1, -1, -1]), colour=BOX_COLOUR)
        return png_bytes(big)
    return png_bytes(rgb, upscale=UPSCALE)
