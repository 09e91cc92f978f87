"""Marks placed in the viewer's answer mode, and the mask geometry image scorers share.

The viewer posts {"seriesInstanceUID", "marks": [{"kind", "sopInstanceUID", "slice",
"image": [[column, row], ...], "patient": [[x, y, z], ...]}]} (templates/viewer/viewer.html,
frontend/src/viewer/index.js). Image coordinates put (0, 0) at the top-left corner of the
first pixel, so pixel (row r, column c) covers [c, c+1) x [r, r+1) and its centre is at
(c + 0.5, r + 0.5).
"""

from __future__ import annotations

import json

import numpy as np
from matplotlib.path import Path as PolygonPath

from assessments.scoring.base import AnswerError, FormValues, GroundTruth, form_value, require

MAX_MARKS = 20
MAX_POINTS_PER_MARK = 2000
MAX_MARKS_JSON = 200_000


def image_data_validate(data: dict) -> dict:
    """Image questions name the series shown and the SEG segment that is the truth."""
    for key in ("study_uid", "series_uid", "seg_series_uid"):
        require(
            isinstance(data.get(key), str) and data[key].strip(),
            f"Give '{key}' (a UID from the study library).",
        )
    segment = data.get("segment_number")
    require(
        isinstance(segment, int) and segment >= 1,
        "Give 'segment_number' (1 is the SEG's first segment).",
    )
    return {**data, **{k: data[k].strip() for k in ("study_uid", "series_uid", "seg_series_uid")}}


def marks_from_form(data: dict, form: FormValues, *, kind: str) -> list[dict]:
    """The marks of `kind` from the posted JSON, checked and reduced to what scoring needs."""
    text = form_value(form, "marks")
    if not text:
        raise AnswerError("Place your answer on the image first.")
    if len(text) > MAX_MARKS_JSON:
        raise AnswerError("Too many marks; clear some and try again.")
    try:
        posted = json.loads(text)
    except json.JSONDecodeError:
        raise AnswerError("The marks could not be read; place them again.") from None
    if not isinstance(posted, dict) or not isinstance(posted.get("marks"), list):
        raise AnswerError("The marks could not be read; place them again.")
    series = posted.get("seriesInstanceUID")
    if series and series != data["series_uid"]:
        raise AnswerError("Those marks are on another series; answer on this question's images.")
    marks = []
    for mark in posted["marks"][:MAX_MARKS]:
        if not isinstance(mark, dict) or mark.get("kind") != kind:
            continue
        points = mark.get("image")
        if (
            not isinstance(points, list)
            or not points
            or len(points) > MAX_POINTS_PER_MARK
            or not all(_is_pair(p) for p in points)
        ):
            raise AnswerError("A mark has unreadable coordinates; place it again.")
        sop = mark.get("sopInstanceUID")
        if not isinstance(sop, str) or len(sop) > 64:
            raise AnswerError("A mark is not on an image of this series; place it again.")
        marks.append(
            {
                "kind": kind,
                "sop_uid": sop,
                "slice": int(mark["slice"]) if isinstance(mark.get("slice"), int) else None,
                "image": [[float(p[0]), float(p[1])] for p in points],
            }
        )
    if not marks:
        names = {"point": "a point", "box": "a box", "outline": "an outline"}
        raise AnswerError(f"Place {names.get(kind, 'a mark')} on the image with the {kind} tool.")
    return marks


def _is_pair(point) -> bool:
    return (
        isinstance(point, list | tuple)
        and len(point) >= 2
        and all(isinstance(v, int | float) and np.isfinite(v) for v in point[:2])
    )


def mark_slice(truth: GroundTruth, mark: dict) -> int | None:
    return truth.slice_index(mark["sop_uid"])


def box_mask(shape: tuple[int, int], corners: list[list[float]]) -> np.ndarray:
    """Pixels whose centres lie inside the axis-aligned box spanned by two corners."""
    (c0, r0), (c1, r1) = corners[0][:2], corners[-1][:2]
    rows = np.arange(shape[0]) + 0.5
    columns = np.arange(shape[1]) + 0.5
    inside_rows = (rows >= min(r0, r1)) & (rows <= max(r0, r1))
    inside_columns = (columns >= min(c0, c1)) & (columns <= max(c0, c1))
    return inside_rows[:, None] & inside_columns[None, :]


def polygon_mask(shape: tuple[int, int], vertices: list[list[float]]) -> np.ndarray:
    """Pixels whose centres lie inside the closed polygon (even-odd rule)."""
    if len(vertices) < 3:
        return np.zeros(shape, dtype=bool)
    rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]]
    centres = np.column_stack([columns.ravel() + 0.5, rows.ravel() + 0.5])
    inside = PolygonPath(np.asarray(vertices, dtype=float)[:, :2]).contains_points(centres)
    return inside.reshape(shape)


def overlap(drawn: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(Dice, IoU) of two binary masks; both empty counts as 0 (nothing was found)."""
    intersection = float(np.logical_and(drawn, truth).sum())
    total = float(drawn.sum() + truth.sum())
    union = float(np.logical_or(drawn, truth).sum())
    if total == 0:
        return 0.0, 0.0
    return 2 * intersection / total, intersection / union


def overlap_data_validate(data: dict) -> dict:
    """Credit rule of box and outline questions: a metric and two thresholds."""
    metric = data.get("metric", "dice")
    require(metric in ("dice", "iou"), "'metric' is 'dice' or 'iou'.")
    full_at = data.get("full_credit_at", 0.7)
    zero_at = data.get("no_credit_below", 0.3)
    require(
        isinstance(full_at, int | float) and isinstance(zero_at, int | float),
        "'full_credit_at' and 'no_credit_below' are numbers between 0 and 1.",
    )
    require(
        0 <= zero_at < full_at <= 1,
        "Need 0 <= 'no_credit_below' < 'full_credit_at' <= 1.",
    )
    return {
        **image_data_validate(data),
        "metric": metric,
        "full_credit_at": float(full_at),
        "no_credit_below": float(zero_at),
    }
