"""Reads for the reading room."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.urls import reverse

from accounts import permissions
from reading_room.models import CaseScore, CohortScoreSet, SimulationRun
from reading_room.score_sources import score_source_get


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
    body = getattr(page.specific, "body", None) or []
    return {
        block.value["exercise"].pk
        for block in body
        if block.block_type == "reading_room" and block.value.get("exercise") is not None
    }


def simulation_runs_for_user(*, user, exercise=None, limit: int = 50):
    """Runs this user may see (their own for residents), newest first."""
    runs = SimulationRun.objects.filter(
        permissions.simulation_runs_visible_filter(user)
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


def _minutes(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def _percent(value) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def simulation_run_display(run: SimulationRun) -> dict:
    """What the run page shows in words and tables, formatted once here."""
    results = run.results
    if run.kind == "triage":
        flags = results["flags"]
        policies = [
            {
                "key": key,
                "title": results["policies"][key]["title"],
                "chosen": key == run.policy,
                "critical": {
                    name: _minutes(results["policies"][key]["critical"][name])
                    for name in ("mean", "median", "p90")
                },
                "non_critical": {
                    name: _minutes(results["policies"][key]["non_critical"][name])
                    for name in ("mean", "median", "p90")
                },
            }
            for key in ("fifo", "flag", "priority")
        ]
        facts = [
            ("Studies in the day", str(results["studies"])),
            ("Critical studies", str(results["critical"])),
            ("Flags (score ≥ threshold)", str(flags["flags"])),
            ("True flags / false flags", f"{flags['true_flags']} / {flags['false_flags']}"),
            ("Critical studies not flagged", str(flags["missed_critical"])),
            ("Share of flags that are critical (PPV)", _percent(flags["flag_ppv"])),
            (
                "Cost of false flags to critical studies (mean, minutes)",
                _minutes(results["false_positive_delay_min"]),
            ),
            (
                "Non-critical studies, flag policy vs FIFO (mean, minutes)",
                _minutes(results["non_critical_delay_vs_fifo_min"]),
            ),
        ]
        return {"facts": facts, "policies": policies}
    outcome, human = results["outcome"], results["human_alone"]
    facts = [
        ("Population screened", f"{outcome['cases']:,}"),
        ("Cancers in the population", str(outcome["cancers"])),
        ("Cleared by the AI without a human read", f"{outcome['cleared']:,}"),
        ("Human reads saved (workload reduction)", _percent(outcome["workload_reduction"])),
        ("Cancers cleared by the AI (missed)", str(outcome["ai_missed_cancers"])),
        ("Cancers missed in all (expected)", f"{outcome['cancers_missed']:.1f}"),
        ("AI operating point: sensitivity", _percent(outcome["ai_true_positive_rate"])),
        (
            "AI operating point: false-positive rate",
            _percent(outcome["ai_false_positive_rate"]),
        ),
    ]
    comparison = [
        (
            "Sensitivity",
            _percent(outcome["sensitivity"]),
            _percent(human["sensitivity"]),
        ),
        (
            "Specificity",
            _percent(outcome["specificity"]),
            _percent(human["specificity"]),
        ),
        ("PPV", _percent(outcome["ppv"]), _percent(human["ppv"])),
        ("Human reads", f"{outcome['human_reads']:,}", f"{human['human_reads']:,}"),
    ]
    return {"facts": facts, "comparison": comparison}
