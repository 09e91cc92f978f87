"""Writes for the reading room: compute a cohort's scores once, run and keep simulations.

Scores are a durable run of the engine (runs.services): the CohortScoreSet row is the
record of work, created QUEUED and enqueued on commit; the engine claims it, beats, stores
the scores only while its attempt still holds the run, and its sweeper offers lost work
again. This module keeps only what is the reading room's: the request (one row per source
and size) and the compute step. Nothing is computed twice once SUCCEEDED.

Simulations are pure numpy on at most a few hundred thousand numbers (measured: under
60 ms for a 1 850-study day or a 200 000-person population), so they run inside the
request and are stored whole, with their own wall time.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from reading_room import selectors
from reading_room.models import (
    CaseScore,
    CohortScoreSet,
    ReadingRoomExercise,
    ReadingRoomKind,
    SimulationRun,
)
from reading_room.score_sources import score_source_get
from reading_room.simulation.population import PopulationRefused, population_draw
from reading_room.simulation.screening import (
    ScreeningRefused,
    ppv_at,
    screening_simulate,
    threshold_sweep,
)
from reading_room.simulation.triage import (
    POLICY_TITLES,
    Policy,
    SimulationRefused,
    day_draw,
    triage_compare,
)
from runs.models import RunStatus
from runs.services import run_enqueue_on_commit, run_execute, run_offer_again
from zoo.evaluation import auc

logger = logging.getLogger(__name__)

# Prevalences on the PPV curve: log-spaced from screening (0.1 %) to a symptomatic clinic.
PPV_CURVE_PREVALENCES = tuple(float(p) for p in np.geomspace(0.001, 0.5, 40))


class SimulationRunRefused(Exception):
    """The request cannot become a simulation; the message is written for the resident."""


# --- Scores, once per source ---------------------------------------------------------------


def score_set_request(*, source_key: str, cases: int) -> CohortScoreSet:
    """The score set for this source, queued for computation unless ready or in progress.

    Idempotent: any number of requests give one row and one computation. A FAILED (or
    CANCELLED) set is queued again; a QUEUED or RUNNING one whose message or worker was
    lost is the engine's sweeper's to offer again.
    """
    score_source_get(source_key)  # an unknown source fails here, before any row exists
    with transaction.atomic():
        score_set, created = CohortScoreSet.objects.get_or_create(
            source_key=source_key, cases=cases, defaults={"queued_at": timezone.now()}
        )
        if created:
            run_enqueue_on_commit(run=score_set)
        elif score_set.status in (RunStatus.FAILED, RunStatus.CANCELLED):
            run_offer_again(run=score_set)
            score_set.refresh_from_db()
    return score_set


def score_set_execute(*, score_set_pk: int) -> CohortScoreSet | None:
    """Run one score set through the engine, in this process (the management command, tests,
    the old task name). None when there was nothing to do (ready, or held by a live worker)."""
    return run_execute(model_label="reading_room.CohortScoreSet", run_pk=score_set_pk)


def score_set_compute(score_set: CohortScoreSet, progress):
    """The engine's compute step: score every case; the returned step stores the scores."""
    source = score_source_get(score_set.source_key)
    started = time.perf_counter()
    computed = source.compute(cases=score_set.cases, on_progress=progress)
    seconds = time.perf_counter() - started

    def store(held: CohortScoreSet) -> None:
        # An earlier attempt never stores (its write is refused), but start clean anyway.
        CaseScore.objects.filter(score_set=held).delete()
        CaseScore.objects.bulk_create(
            CaseScore(
                score_set=held,
                case_index=index,
                score=float(score),
                is_positive=bool(positive),
                subgroup=str(subgroup),
            )
            for index, (score, positive, subgroup) in enumerate(
                zip(computed.scores, computed.positive, computed.subgroup, strict=True)
            )
        )
        held.auc = auc(scores=computed.scores, positive=computed.positive)
        held.positives = int(computed.positive.sum())
        held.seconds = seconds
        held.save(update_fields=["auc", "positives", "seconds"])

    return store


# --- Simulations ---------------------------------------------------------------------------


def _threshold_validate(value) -> float:
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise SimulationRunRefused(_("The threshold must be a number between 0 and 1.")) from None
    if not np.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
        raise SimulationRunRefused(_("The threshold must be a number between 0 and 1."))
    return threshold


def _plain(value):
    """JSON-safe: NaN and infinities become None."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _plain_list(values) -> list:
    return [_plain(v) for v in values]


def simulation_run_create(
    *,
    user,
    exercise: ReadingRoomExercise,
    lesson=None,
    threshold,
    policy: str = "",
    seed: int | None = None,
) -> SimulationRun:
    """Validate, simulate on the exercise's real scores, and store the run with its results.

    `seed` None uses the exercise's seed, so every replay of a lesson sees the same day or
    population and differs only by what the resident changed.
    """
    if not exercise.is_published:
        raise SimulationRunRefused(_("This exercise is not open for runs."))
    threshold = _threshold_validate(threshold)
    if exercise.kind == ReadingRoomKind.TRIAGE:
        try:
            policy = Policy(policy or Policy.FLAG).value
        except ValueError:
            raise SimulationRunRefused(_("Choose one of the offered policies.")) from None
    else:
        policy = ""
    score_set = selectors.score_set_ready(exercise=exercise)
    if score_set is None:
        raise SimulationRunRefused(
            _("The model's scores over the cohort are not ready yet. Prepare them, then run.")
        )
    pool = selectors.score_set_arrays(score_set=score_set)
    seed = exercise.seed if seed is None else int(seed)
    started = time.perf_counter()
    try:
        if exercise.kind == ReadingRoomKind.TRIAGE:
            results = _triage_results(exercise=exercise, pool=pool, threshold=threshold, seed=seed)
        else:
            results = _screening_results(
                exercise=exercise, pool=pool, threshold=threshold, seed=seed
            )
    except (SimulationRefused, ScreeningRefused, PopulationRefused) as refusal:
        raise SimulationRunRefused(str(refusal)) from None
    seconds = time.perf_counter() - started
    parameters = {
        "seed": seed,
        "prevalence": exercise.prevalence,
        "score_source": exercise.score_source,
        "score_set_cases": score_set.cases,
    }
    if exercise.kind == ReadingRoomKind.TRIAGE:
        parameters.update(
            shift_hours=exercise.shift_hours,
            arrivals_per_hour=exercise.arrivals_per_hour,
            arrival_pattern=exercise.arrival_pattern,
            reading_minutes=exercise.reading_minutes,
            reading_time_distribution=exercise.reading_time_distribution,
            radiologists=exercise.radiologists,
        )
    else:
        parameters.update(
            population_size=exercise.population_size,
            human_sensitivity=exercise.human_sensitivity,
            human_specificity=exercise.human_specificity,
        )
    return SimulationRun.objects.create(
        exercise=exercise,
        user=user,
        lesson=lesson,
        score_set=score_set,
        kind=exercise.kind,
        threshold=threshold,
        policy=policy,
        parameters=parameters,
        results=results,
        seconds=seconds,
    )


def _triage_results(*, exercise, pool, threshold: float, seed: int) -> dict:
    day = day_draw(
        shift_minutes=exercise.shift_hours * 60.0,
        arrivals_per_hour=exercise.arrivals_per_hour,
        pattern=exercise.arrival_pattern,
        reading_mean_minutes=exercise.reading_minutes,
        reading_distribution=exercise.reading_time_distribution,
        prevalence=exercise.prevalence,
        positive_scores=pool.scores[pool.positive],
        negative_scores=pool.scores[~pool.positive],
        seed=seed,
    )
    comparison = triage_compare(
        studies=day, threshold=threshold, radiologists=exercise.radiologists
    )

    def summary(s) -> dict:
        return {"count": s.count, "mean": s.mean, "median": s.median, "p90": s.p90}

    flags = comparison.flags
    return {
        "studies": len(day),
        "critical": sum(s.critical for s in day),
        "arrival_min": [s.arrival_min for s in day],
        "reading_min": [s.reading_min for s in day],
        "is_critical": [s.critical for s in day],
        "score": [s.score for s in day],
        "policies": {
            policy.value: {
                "title": POLICY_TITLES[policy],
                "critical": summary(result.critical),
                "non_critical": summary(result.non_critical),
                "time_to_report_min": [o.time_to_report_min for o in result.outcomes],
                "wait_min": [o.wait_min for o in result.outcomes],
            }
            for policy, result in comparison.results.items()
        },
        "flags": {
            "flags": flags.flags,
            "true_flags": flags.true_flags,
            "false_flags": flags.false_flags,
            "missed_critical": flags.missed_critical,
            "flag_ppv": flags.flag_ppv,
        },
        "false_positive_delay_min": comparison.false_positive_delay_min,
        "non_critical_delay_vs_fifo_min": comparison.non_critical_delay_vs_fifo_min,
    }


def _screening_results(*, exercise, pool, threshold: float, seed: int) -> dict:
    population = population_draw(
        positive_scores=pool.scores[pool.positive],
        negative_scores=pool.scores[~pool.positive],
        prevalence=exercise.prevalence,
        size=exercise.population_size,
        seed=seed,
    )
    reader = {
        "human_sensitivity": exercise.human_sensitivity,
        "human_specificity": exercise.human_specificity,
    }
    outcome = screening_simulate(
        scores=population.scores, cancer=population.positive, threshold=threshold, **reader
    )
    human_alone = screening_simulate(
        scores=population.scores, cancer=population.positive, threshold=0.0, **reader
    )
    sweep = threshold_sweep(scores=population.scores, cancer=population.positive, **reader)

    def described(o) -> dict:
        return {
            "threshold": o.threshold,
            "cases": o.cases,
            "cancers": o.cancers,
            "cleared": o.cleared,
            "human_reads": o.human_reads,
            "workload_reduction": o.workload_reduction,
            "ai_missed_cancers": o.ai_missed_cancers,
            "cancers_found": o.cancers_found,
            "cancers_missed": o.cancers_missed,
            "false_recalls": o.false_recalls,
            "sensitivity": o.sensitivity,
            "specificity": o.specificity,
            "ppv": o.ppv,
            "ai_true_positive_rate": o.ai_true_positive_rate,
            "ai_false_positive_rate": o.ai_false_positive_rate,
        }

    def ppv_curve(sensitivity, specificity) -> list:
        if sensitivity is None or specificity is None:
            return [None] * len(PPV_CURVE_PREVALENCES)
        return [
            ppv_at(sensitivity=sensitivity, specificity=specificity, prevalence=p)
            for p in PPV_CURVE_PREVALENCES
        ]

    ai_fpr = outcome.ai_false_positive_rate
    return {
        "outcome": described(outcome),
        "human_alone": described(human_alone),
        "sweep": {
            "thresholds": _plain_list(sweep.thresholds),
            "workload_reduction": _plain_list(sweep.workload_reduction),
            "cancers_missed": _plain_list(sweep.cancers_missed),
            "ai_missed_cancers": _plain_list(sweep.ai_missed_cancers),
            "ai_true_positive_rate": _plain_list(sweep.ai_true_positive_rate),
            "ai_false_positive_rate": _plain_list(sweep.ai_false_positive_rate),
        },
        "ppv_curve": {
            "prevalence": list(PPV_CURVE_PREVALENCES),
            "pathway": ppv_curve(outcome.sensitivity, outcome.specificity),
            "human_alone": ppv_curve(human_alone.sensitivity, human_alone.specificity),
            "ai_alone": ppv_curve(
                outcome.ai_true_positive_rate, None if ai_fpr is None else 1.0 - ai_fpr
            ),
        },
    }
