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
from reading_room.simulation.presets import TRIAGE_PRESETS, TriageClinic
from reading_room.simulation.screening import (
    AI_PATHWAYS,
    PATHWAY_TITLES,
    Pathway,
    Readers,
    ScreeningRefused,
    pathways_compare,
    ppv_at,
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


def _aging_validate(value) -> float | None:
    if value in (None, ""):
        return None
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise SimulationRunRefused(_("The aging limit must be a number of minutes.")) from None
    if not np.isfinite(minutes) or not 1.0 <= minutes <= 1440.0:
        raise SimulationRunRefused(_("The aging limit must lie between 1 and 1440 minutes."))
    return minutes


def simulation_run_create(
    *,
    user,
    exercise: ReadingRoomExercise,
    lesson=None,
    threshold,
    policy: str = "",
    clinic: str = "",
    aging_minutes=None,
    seed: int | None = None,
) -> SimulationRun:
    """Validate, simulate on the exercise's real scores, and store the run with its results.

    Triage only: `clinic` names a preset clinic (reading_room.simulation.presets) to replay
    the exercise in, "" for the exercise's own; `aging_minutes` sets the aging rule (None:
    no rule). `seed` None uses the exercise's seed, so every replay of a lesson sees the
    same day or population and differs only by what the resident changed.
    """
    if not exercise.is_published:
        raise SimulationRunRefused(_("This exercise is not open for runs."))
    threshold = _threshold_validate(threshold)
    if exercise.kind == ReadingRoomKind.TRIAGE:
        try:
            policy = Policy(policy or Policy.FLAG).value
        except ValueError:
            raise SimulationRunRefused(_("Choose one of the offered policies.")) from None
        if clinic and clinic not in TRIAGE_PRESETS:
            raise SimulationRunRefused(_("Choose one of the offered clinics."))
        aging_minutes = _aging_validate(aging_minutes)
    else:
        policy, clinic, aging_minutes = "", "", None
    score_set = selectors.score_set_ready(exercise=exercise)
    if score_set is None:
        raise SimulationRunRefused(
            _("The model's scores over the cohort are not ready yet. Prepare them, then run.")
        )
    pool = selectors.score_set_arrays(score_set=score_set)
    seed = exercise.seed if seed is None else int(seed)
    parameters = {
        "seed": seed,
        "prevalence": exercise.prevalence,
        "score_source": exercise.score_source,
        "score_set_cases": score_set.cases,
        "finding": exercise.finding,
    }
    started = time.perf_counter()
    try:
        if exercise.kind == ReadingRoomKind.TRIAGE:
            triage_clinic = (
                TRIAGE_PRESETS[clinic].clinic if clinic else TriageClinic.of_exercise(exercise)
            )
            parameters.update(
                clinic=clinic,
                aging_minutes=aging_minutes,
                **{
                    name: getattr(triage_clinic, name) for name in TriageClinic.__dataclass_fields__
                },
            )
            results = _triage_results(
                clinic=triage_clinic,
                pool=pool,
                threshold=threshold,
                aging_minutes=aging_minutes,
                seed=seed,
            )
        else:
            readers = Readers(
                sensitivity=exercise.human_sensitivity,
                specificity=exercise.human_specificity,
                arbitration_sensitivity=exercise.arbitration_sensitivity,
                arbitration_specificity=exercise.arbitration_specificity,
                difficulty_correlation=exercise.error_correlation,
            )
            parameters.update(
                population_size=exercise.population_size,
                human_sensitivity=readers.sensitivity,
                human_specificity=readers.specificity,
                arbitration_sensitivity=readers.arbitration_sensitivity,
                arbitration_specificity=readers.arbitration_specificity,
                error_correlation=readers.difficulty_correlation,
            )
            results = _screening_results(
                exercise=exercise, pool=pool, threshold=threshold, readers=readers, seed=seed
            )
    except (SimulationRefused, ScreeningRefused, PopulationRefused) as refusal:
        raise SimulationRunRefused(str(refusal)) from None
    seconds = time.perf_counter() - started
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


def _summary(s) -> dict:
    return {"count": s.count, "mean": s.mean, "median": s.median, "p90": s.p90, "max": s.max}


def _triage_results(
    *, clinic: TriageClinic, pool, threshold: float, aging_minutes: float | None, seed: int
) -> dict:
    day = day_draw(
        shift_minutes=clinic.shift_hours * 60.0,
        arrivals_per_hour=clinic.arrivals_per_hour,
        pattern=clinic.arrival_pattern,
        reading_mean_minutes=clinic.reading_minutes,
        reading_distribution=clinic.reading_time_distribution,
        prevalence=clinic.prevalence,
        positive_scores=pool.scores[pool.positive],
        negative_scores=pool.scores[~pool.positive],
        seed=seed,
        backlog=clinic.backlog_studies,
    )
    comparison = triage_compare(
        studies=day,
        threshold=threshold,
        radiologists=clinic.radiologists,
        aging_minutes=aging_minutes,
    )
    flags = comparison.flags
    return {
        "studies": len(day),
        "critical": sum(s.critical for s in day),
        "backlog": clinic.backlog_studies,
        "arrival_min": [s.arrival_min for s in day],
        "reading_min": [s.reading_min for s in day],
        "is_critical": [s.critical for s in day],
        "score": [s.score for s in day],
        "policies": {
            policy.value: {
                "title": POLICY_TITLES[policy],
                "critical": _summary(result.critical),
                "non_critical": _summary(result.non_critical),
                "missed_critical": _summary(result.missed_critical),
                "promoted": result.promoted,
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


def _screening_results(*, exercise, pool, threshold: float, readers: Readers, seed: int) -> dict:
    population = population_draw(
        positive_scores=pool.scores[pool.positive],
        negative_scores=pool.scores[~pool.positive],
        prevalence=exercise.prevalence,
        size=exercise.population_size,
        seed=seed,
    )
    outcomes = pathways_compare(
        scores=population.scores, cancer=population.positive, threshold=threshold, readers=readers
    )
    sweep = threshold_sweep(scores=population.scores, cancer=population.positive, readers=readers)
    baseline_reads = outcomes[Pathway.DOUBLE].human_reads

    def described(o) -> dict:
        return {
            "title": PATHWAY_TITLES[o.pathway],
            "uses_ai": o.pathway in AI_PATHWAYS,
            "cases": o.cases,
            "cancers": o.cancers,
            "human_reads": o.human_reads,
            "workload_vs_double": 1.0 - o.human_reads / baseline_reads,
            "recall_rate": o.recall_rate,
            "cancers_found": o.cancers_found,
            "cancers_missed": o.cancers_missed,
            "false_recalls": o.false_recalls,
            "detected_per_1000": o.per_thousand(o.cancers_found),
            "interval_per_1000": o.per_thousand(o.cancers_missed),
            "sensitivity": o.sensitivity,
            "specificity": o.specificity,
            "ppv": o.ppv,
        }

    def ppv_curve(o) -> list:
        if o.sensitivity is None or o.specificity is None:
            return [None] * len(PPV_CURVE_PREVALENCES)
        return [
            ppv_at(sensitivity=o.sensitivity, specificity=o.specificity, prevalence=p)
            for p in PPV_CURVE_PREVALENCES
        ]

    cancers = int(population.positive.sum())
    ai_flags = outcomes[Pathway.MASAI].ai_flags
    ai_tpr = (
        float((population.scores[population.positive] >= threshold).mean()) if cancers else None
    )
    ai_fpr = (
        float((population.scores[~population.positive] >= threshold).mean())
        if cancers < len(population)
        else None
    )
    return {
        "threshold": threshold,
        "cases": len(population),
        "cancers": cancers,
        "ai_flags": ai_flags,
        "ai_true_positive_rate": ai_tpr,
        "ai_false_positive_rate": ai_fpr,
        "pathways": {pathway.value: described(o) for pathway, o in outcomes.items()},
        "sweep": {
            "thresholds": _plain_list(sweep.thresholds),
            "ai_true_positive_rate": _plain_list(sweep.ai_true_positive_rate),
            "ai_false_positive_rate": _plain_list(sweep.ai_false_positive_rate),
            **{
                f"{pathway.value}_workload_vs_double": _plain_list(
                    1.0 - sweep.human_reads[pathway] / baseline_reads
                )
                for pathway in AI_PATHWAYS
            },
            **{
                f"{pathway.value}_cancers_missed": _plain_list(sweep.cancers_missed[pathway])
                for pathway in AI_PATHWAYS
            },
        },
        "ppv_curve": {
            "prevalence": list(PPV_CURVE_PREVALENCES),
            **{pathway.value: ppv_curve(o) for pathway, o in outcomes.items()},
        },
    }
