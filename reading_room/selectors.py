"""Reads for the reading room."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.urls import reverse

from accounts import permissions
from reading_room.models import CaseScore, CohortScoreSet, SimulationRun
from reading_room.score_sources import score_source_get
from reading_room.simulation.presets import TRIAGE_PRESETS
from runs.lessons import lesson_exercise_ids


@dataclass(frozen=True)
class ScorePool:
    scores: np.ndarray  # float (cases,)
    positive: np.ndarray  # bool (cases,)


def score_set_cases(*, exercise) -> int:
    """How many cohort cases an exercise draws from: its source's whole cohort unless the
    educator chose only the first N."""
    return exercise.cohort_cases or score_source_get(exercise.score_source).default_cases


def score_set_for_exercise(*, exercise) -> CohortScoreSet | None:
    """The score set this exercise draws from, if it was ever requested (shared by every
    exercise with the same source and number of cases)."""
    return CohortScoreSet.objects.filter(
        source_key=exercise.score_source, cases=score_set_cases(exercise=exercise)
    ).first()


def score_set_progress_context(*, score_set: CohortScoreSet) -> dict:
    """What runs/_progress.html needs to show a score set's progress (nobody cancels one:
    it is shared by every resident of every exercise on the same source)."""
    return {
        "run": score_set,
        "status_url": reverse("reading_room:scores_status", args=[score_set.pk]),
        "result_template": "reading_room/_score_set_ready.html",
    }


def score_set_ready(*, exercise) -> CohortScoreSet | None:
    score_set = score_set_for_exercise(exercise=exercise)
    return score_set if score_set is not None and score_set.is_ready else None


def score_set_arrays(*, score_set: CohortScoreSet) -> ScorePool:
    rows = list(
        CaseScore.objects.filter(score_set=score_set)
        .order_by("case_index")
        .values_list("score", "is_positive")
    )
    return ScorePool(
        scores=np.array([score for score, _positive in rows], dtype=float),
        positive=np.array([positive for _score, positive in rows], dtype=bool),
    )


def lesson_reading_room_exercise_ids(page) -> set[int]:
    """Primary keys of the reading-room exercises a lesson embeds."""
    return lesson_exercise_ids(page, block_type="reading_room")


def simulation_runs_for_user(*, user, exercise=None, limit: int = 50):
    """Runs this user may see (their own for residents), newest first."""
    runs = SimulationRun.objects.filter(
        permissions.visible_q(user, "reading_room.runs")
    ).select_related("exercise", "user")
    if exercise is not None:
        runs = runs.filter(exercise=exercise, user=user)
    return runs[:limit]


def simulation_run_previous(*, run: SimulationRun) -> SimulationRun | None:
    """The same person's run of the same exercise just before this one (for side by side)."""
    return (
        SimulationRun.objects.filter(exercise=run.exercise, user=run.user, pk__lt=run.pk)
        .order_by("-pk")
        .first()
    )


def simulation_runs_comparable(*, run: SimulationRun, limit: int = 30):
    """The owner's other runs of this exercise, newest first, to pick one to compare."""
    return (
        SimulationRun.objects.filter(exercise=run.exercise, user=run.user)
        .exclude(pk=run.pk)
        .order_by("-pk")[:limit]
    )


def score_source_disclosure(*, source_key: str, finding: str = "") -> dict:
    """Whose scores the simulated cases carry, in words for the resident; `borrowed` when the
    exercise's finding is not what the source's model detects (its scores stand in)."""
    source = score_source_get(source_key)
    borrowed = bool(finding) and finding.lower() not in source.positive_meaning.lower()
    text = (
        f"The AI scores in this simulator are real ones: {source.title} (zoo model "
        f"'{source.model_key}'), which scores how likely a case shows "
        f"{source.positive_meaning}."
    )
    if borrowed:
        text += (
            f" The model zoo has no {finding} detector, so this simulator borrows those "
            f"scores to stand in for one: a positive case here is a {finding}, and its AI "
            f"score is drawn from the lesion model's scores for its positive cases. Only "
            f"how well the scores separate positives from negatives carries over; a real "
            f"{finding} detector would separate differently, and its false flags would "
            f"fall on other studies."
        )
    return {"borrowed": borrowed, "text": text, "finding": finding, "source": source.title}


def simulation_run_is_legacy(run: SimulationRun) -> bool:
    """Screening runs stored before the pathways as practised (issue 16) lack their tables."""
    return run.kind == "screening" and "pathways" not in run.results


def _minutes(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def _percent(value) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _per_thousand(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def _triage_display(run: SimulationRun) -> dict:
    results, parameters = run.results, run.parameters
    flags = results["flags"]
    empty = {"mean": None, "median": None, "p90": None, "max": None}
    policies = []
    for key in ("fifo", "flag", "priority"):
        policy = results["policies"][key]
        policies.append(
            {
                "key": key,
                "title": policy["title"],
                "chosen": key == run.policy,
                "critical": {
                    name: _minutes(policy["critical"].get(name)) for name in ("mean", "p90", "max")
                },
                "missed_critical": {
                    name: _minutes(policy.get("missed_critical", empty).get(name))
                    for name in ("mean", "p90", "max")
                },
                "non_critical": {
                    name: _minutes(policy["non_critical"].get(name))
                    for name in ("mean", "p90", "max")
                },
                "promoted": policy.get("promoted", 0),
            }
        )
    clinic_key = parameters.get("clinic", "")
    aging = parameters.get("aging_minutes")
    facts = [
        (
            "Clinic",
            TRIAGE_PRESETS[clinic_key].title if clinic_key in TRIAGE_PRESETS else "As authored",
        ),
        ("Radiologists", str(parameters.get("radiologists", "—"))),
        ("Studies waiting at the start (backlog)", str(results.get("backlog", 0))),
        ("Studies in the shift, backlog included", str(results["studies"])),
        ("Critical studies", str(results["critical"])),
        ("Flags (score ≥ threshold)", str(flags["flags"])),
        ("True flags / false flags", f"{flags['true_flags']} / {flags['false_flags']}"),
        ("Critical studies the AI missed (not flagged)", str(flags["missed_critical"])),
        ("Share of flags that are critical (PPV)", _percent(flags["flag_ppv"])),
        (
            "Cost of false flags to critical studies (mean, minutes)",
            _minutes(results["false_positive_delay_min"]),
        ),
        (
            "Non-critical studies, flag policy vs FIFO (mean, minutes)",
            _minutes(results["non_critical_delay_vs_fifo_min"]),
        ),
        ("Aging rule", f"read next after {aging:g} minutes of waiting" if aging else "none"),
    ]
    return {"facts": facts, "policies": policies}


def _screening_display(run: SimulationRun) -> dict:
    results = run.results
    if simulation_run_is_legacy(run):
        outcome = results.get("outcome", {})
        return {
            "legacy": True,
            "facts": [
                ("Population screened", f"{outcome.get('cases', 0):,}"),
                ("Cancers in the population", str(outcome.get("cancers", "—"))),
            ],
        }
    parameters = run.parameters
    facts = [
        ("Population screened", f"{results['cases']:,}"),
        ("Cancers present at screening", str(results["cancers"])),
        (
            "Cases the AI scores at or above the threshold",
            f"{results['ai_flags']:,} ({_percent(results['ai_flags'] / results['cases'])})",
        ),
        ("AI alone at this threshold: sensitivity", _percent(results["ai_true_positive_rate"])),
        (
            "AI alone at this threshold: false-positive rate",
            _percent(results["ai_false_positive_rate"]),
        ),
        (
            "Human reader: sensitivity / specificity",
            f"{_percent(parameters['human_sensitivity'])} / "
            f"{_percent(parameters['human_specificity'])}",
        ),
        (
            "Arbitrator on discordant reads: recalls cancers / non-cancers",
            f"{_percent(parameters['arbitration_sensitivity'])} / "
            f"{_percent(1 - parameters['arbitration_specificity'])}",
        ),
        (
            "Correlation of human and AI errors",
            f"{parameters['error_correlation']:g}"
            + (" (independent)" if not parameters["error_correlation"] else ""),
        ),
    ]
    pathways = [
        {
            "key": key,
            "title": p["title"],
            "uses_ai": p["uses_ai"],
            "recall_rate": _percent(p["recall_rate"]),
            "detected_per_1000": _per_thousand(p["detected_per_1000"]),
            "interval_per_1000": _per_thousand(p["interval_per_1000"]),
            "sensitivity": _percent(p["sensitivity"]),
            "specificity": _percent(p["specificity"]),
            "ppv": _percent(p["ppv"]),
            "human_reads": f"{p['human_reads']:,.0f}",
            "workload_vs_double": _percent(p["workload_vs_double"]),
        }
        for key, p in results["pathways"].items()
    ]
    return {"legacy": False, "facts": facts, "pathways": pathways}


def simulation_run_display(run: SimulationRun) -> dict:
    """What the run page shows in words and tables, formatted once here."""
    display = _triage_display(run) if run.kind == "triage" else _screening_display(run)
    display["disclosure"] = score_source_disclosure(
        source_key=run.parameters.get("score_source", "ct-lesion-held-out"),
        finding=run.parameters.get("finding", ""),
    )
    return display


def simulation_run_by_pk(pk: int) -> SimulationRun | None:
    """The run with its exercise, owner and lesson, or None (access: "reading_room.view_run")."""
    return SimulationRun.objects.select_related("exercise", "user", "lesson").filter(pk=pk).first()
