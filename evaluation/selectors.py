"""Reads for cohort labs: runs a user may see, scores as measure inputs, tables and curves."""

from __future__ import annotations

import math
from dataclasses import dataclass

from accounts import permissions
from evaluation.measures.base import MeasureResult, OperatingPoint, ScoredCases
from evaluation.measures.registry import MEASURES, measures_compute
from evaluation.models import CohortCaseScore, CohortRun
from runs.lessons import lesson_exercise_ids


def cohort_runs_for_user(*, user, limit: int = 50):
    """Runs this user may see (their own for residents), newest first."""
    return CohortRun.objects.filter(permissions.visible_q(user, "evaluation.runs")).select_related(
        "exercise", "user"
    )[:limit]


def lesson_cohort_exercise_ids(page) -> set[int]:
    """Primary keys of the cohort exercises a lesson embeds."""
    return lesson_exercise_ids(page, block_type="cohort_lab")


def run_scored_cases(*, run: CohortRun, condition_index: int) -> ScoredCases:
    rows = CohortCaseScore.objects.filter(run=run, condition_index=condition_index).order_by(
        "case_index"
    )
    values = list(rows.values_list("score", "has_lesion", "site", "dice"))
    return ScoredCases.from_lists(
        scores=[v[0] for v in values],
        labels=[v[1] for v in values],
        sites=[v[2] for v in values],
        dices=[v[3] for v in values],
    )


def stored_measures(*, run: CohortRun, condition_index: int) -> dict[str, MeasureResult]:
    """The threshold-free measures computed when the run finished."""
    conditions = run.summary.get("conditions", [])
    if not 0 <= condition_index < len(conditions):
        return {}
    return {
        key: MeasureResult.from_dict(data)
        for key, data in conditions[condition_index]["measures"].items()
    }


@dataclass(frozen=True)
class MeasureView:
    """Everything the measure-it page shows for one condition at one operating point."""

    condition_index: int
    condition_label: str
    point: OperatingPoint
    cases: ScoredCases
    results: dict[str, MeasureResult]

    def value(self, key: str, name: str, group: str = "") -> float | None:
        result = self.results.get(key)
        if result is None:
            return None
        try:
            return result.row(name, group).value
        except KeyError:
            return None

    @property
    def operating_point(self) -> tuple[float, float]:
        """(false-positive rate, sensitivity) of the threshold, for the ROC plot."""
        sensitivity = self.value("sensitivity-specificity", "Sensitivity")
        specificity = self.value("sensitivity-specificity", "Specificity")
        return (
            1 - specificity if specificity is not None and not math.isnan(specificity) else 0.0,
            sensitivity if sensitivity is not None and not math.isnan(sensitivity) else 0.0,
        )


def measure_view(*, run: CohortRun, condition_index: int, point: OperatingPoint) -> MeasureView:
    cases = run_scored_cases(run=run, condition_index=condition_index)
    results = {
        **stored_measures(run=run, condition_index=condition_index),
        **measures_compute(cases, point, uses_operating_point=True),
    }
    ordered = {key: results[key] for key in MEASURES if key in results}
    return MeasureView(
        condition_index=condition_index,
        condition_label=run.conditions[condition_index]["label"],
        point=point,
        cases=cases,
        results=ordered,
    )


def robustness_curves(run: CohortRun) -> list[dict]:
    """AUC and (for models that draw masks) Dice against severity, with CI bounds."""
    conditions = run.summary.get("conditions", [])
    curves = []
    for key, name in (("roc-auc", "AUC"), ("dice", "Dice")):
        points = []
        for condition in conditions:
            measured = condition["measures"].get(key)
            if measured is None:
                continue
            row = measured["rows"][0]
            if row["value"] is None:
                continue  # undefined here (e.g. no lesion case left): no point to draw
            points.append(
                (
                    condition["severity"] or 0.0,
                    row["value"],
                    row["low"] if row["low"] is not None else row["value"],
                    row["high"] if row["high"] is not None else row["value"],
                )
            )
        if points:
            severities, values, lows, highs = (list(column) for column in zip(*points, strict=True))
            curves.append(
                {
                    "name": name,
                    "severities": severities,
                    "values": values,
                    "lows": lows,
                    "highs": highs,
                }
            )
    return curves


def curve_table(run: CohortRun) -> list[dict]:
    """One row per condition: its AUC and Dice with CIs, and ECE."""
    rows = []
    for condition in run.summary.get("conditions", []):
        measures = condition["measures"]
        rows.append(
            {
                "label": condition["label"],
                "severity": condition["severity"],
                "auc": _first_row(measures, "roc-auc"),
                "dice": _first_row(measures, "dice"),
                "ece": _first_row(measures, "calibration"),
            }
        )
    return rows


def _first_row(measures: dict, key: str) -> dict | None:
    return measures[key]["rows"][0] if key in measures else None


CASES_CSV_HEADER = (
    "case_index",
    "condition",
    "severity",
    "site",
    "organ",
    "has_lesion",
    "score",
    "dice",
)


def cases_csv_rows(run: CohortRun):
    """Per-case scores as CSV rows (header first)."""
    yield CASES_CSV_HEADER
    for row in CohortCaseScore.objects.filter(run=run).order_by("condition_index", "case_index"):
        condition = run.conditions[row.condition_index]
        yield (
            row.case_index,
            condition["label"],
            "" if condition["severity"] is None else condition["severity"],
            row.site,
            row.organ,
            int(row.has_lesion),
            f"{row.score:.6f}",
            "" if row.dice is None else f"{row.dice:.6f}",
        )


SUMMARY_CSV_HEADER = (
    "condition",
    "measure",
    "name",
    "group",
    "value",
    "ci_low",
    "ci_high",
    "cases",
    "threshold",
    "prevalence",
)


def summary_csv_rows(run: CohortRun, *, point: OperatingPoint):
    """Every measure of every condition at the operating point, as CSV rows (header first)."""
    yield SUMMARY_CSV_HEADER
    for index, condition in enumerate(run.conditions):
        view = measure_view(run=run, condition_index=index, point=point)
        for key, result in view.results.items():
            live = MEASURES[key].uses_operating_point
            for row in result.rows:
                yield (
                    condition["label"],
                    key,
                    row.name,
                    row.group,
                    _number(row.value),
                    _number(row.low),
                    _number(row.high),
                    "" if row.cases is None else row.cases,
                    point.threshold if live else "",
                    (point.prevalence if point.prevalence is not None else "") if live else "",
                )


def _number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.6f}"


def cohort_run_by_pk(pk: int) -> CohortRun | None:
    """The run with its exercise and owner, or None (access: "evaluation.view_run")."""
    return CohortRun.objects.select_related("exercise", "user").filter(pk=pk).first()
