"""The one interface every measure implements.

A measure reads the per-case results of a cohort run (`ScoredCases`: the model's
probability of the positive class, the reference label, the virtual scanner, and the Dice
of the predicted mask when the model draws one) and the operating point a resident chose
(`OperatingPoint`: threshold and prevalence), and returns rows of numbers with their 95 %
confidence interval when one is computed. `formula` is shown beside the result, so a
resident can check any number with a pencil.

Measures whose result does not depend on the operating point (`uses_operating_point` is
False: AUC, calibration, per-site AUC, Dice) are computed once when a run finishes and
stored; the others are recomputed live as the resident moves the threshold.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class MeasureInputError(ValueError):
    """A threshold or prevalence outside what the formula accepts; message for the resident."""


@dataclass(frozen=True)
class ScoredCases:
    """One cohort's results under one condition, one entry per case."""

    scores: np.ndarray  # float (cases,): P(positive) in [0, 1]
    labels: np.ndarray  # bool (cases,): reference standard
    sites: np.ndarray  # str (cases,): virtual scanner
    dices: np.ndarray  # float (cases,): Dice of the predicted mask, NaN when none

    def __post_init__(self) -> None:
        lengths = {len(self.scores), len(self.labels), len(self.sites), len(self.dices)}
        if len(lengths) != 1:
            raise ValueError(f"Per-case arrays differ in length: {sorted(lengths)}")

    @classmethod
    def from_lists(cls, *, scores, labels, sites=None, dices=None) -> ScoredCases:
        count = len(scores)
        return cls(
            scores=np.asarray(scores, dtype=float),
            labels=np.asarray(labels, dtype=bool),
            sites=np.asarray(sites if sites is not None else [""] * count, dtype=str),
            dices=np.asarray(
                [np.nan if d is None else d for d in dices]
                if dices is not None
                else [np.nan] * count,
                dtype=float,
            ),
        )

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def has_both_classes(self) -> bool:
        return bool(self.labels.any() and (~self.labels).any())

    @property
    def has_masks(self) -> bool:
        return bool(np.isfinite(self.dices).any())


@dataclass(frozen=True)
class OperatingPoint:
    """What the resident sets: a case is called positive when score >= threshold; the
    prevalence is that of the population the result is applied to (None: the cohort's)."""

    threshold: float = 0.5
    prevalence: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise MeasureInputError("The threshold must lie between 0 and 1.")
        if self.prevalence is not None and not 0.0 < self.prevalence < 1.0:
            raise MeasureInputError("The prevalence must lie strictly between 0 and 1 (0-100 %).")


@dataclass(frozen=True)
class MeasureRow:
    name: str
    value: float
    low: float | None = None
    high: float | None = None
    cases: int | None = None
    group: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe: an undefined value (NaN, e.g. an AUC without negatives) becomes None,
        as PostgreSQL's jsonb refuses NaN."""
        return {
            "name": self.name,
            "value": _finite_or_none(self.value),
            "low": _finite_or_none(self.low),
            "high": _finite_or_none(self.high),
            "cases": self.cases,
            "group": self.group,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeasureRow:
        value = data["value"]
        return cls(**{**data, "value": float("nan") if value is None else value})


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class MeasureResult:
    key: str
    title: str
    formula: str
    rows: tuple[MeasureRow, ...]
    # Extra numbers a plot or table needs (e.g. the reliability diagram's bins).
    details: dict[str, Any] = field(default_factory=dict)

    def row(self, name: str, group: str = "") -> MeasureRow:
        for row in self.rows:
            if row.name == name and row.group == group:
                return row
        raise KeyError((name, group))

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "formula": self.formula,
            "rows": [row.as_dict() for row in self.rows],
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeasureResult:
        return cls(
            key=data["key"],
            title=data["title"],
            formula=data["formula"],
            rows=tuple(MeasureRow.from_dict(row) for row in data["rows"]),
            details=data.get("details", {}),
        )


class Measure(ABC):
    key: str
    title: str
    formula: str
    uses_operating_point: bool = False

    def applies_to(self, cases: ScoredCases) -> bool:
        """Whether the measure is defined for these cases (e.g. AUC needs both classes)."""
        return cases.has_both_classes

    @abstractmethod
    def compute(self, cases: ScoredCases, point: OperatingPoint) -> MeasureResult: ...

    def result(self, rows, **details) -> MeasureResult:
        return MeasureResult(
            key=self.key, title=self.title, formula=self.formula, rows=tuple(rows), details=details
        )


def confusion_counts(cases: ScoredCases, threshold: float) -> dict[str, int]:
    """TP, FP, FN, TN with 'positive call' meaning score >= threshold."""
    called = cases.scores >= threshold
    return {
        "TP": int((called & cases.labels).sum()),
        "FP": int((called & ~cases.labels).sum()),
        "FN": int((~called & cases.labels).sum()),
        "TN": int((~called & ~cases.labels).sum()),
    }


def ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else float("nan")
