"""Writes for cohort labs: create cohort runs, their compute and store steps.

A CohortRun is a durable run (runs app): the engine claims, heartbeats, cancels, sweeps
and finishes it. Scores are kept per case and condition; the threshold-free measures are
computed once, at the end, into `summary`.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from datetime import timedelta
from functools import partial

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from evaluation.cohorts import (
    VARIANT_LABELS,
    WITH_MARKER,
    WITHOUT_MARKER,
    cohort_get,
    cohort_variants,
)
from evaluation.measures.base import OperatingPoint, ScoredCases
from evaluation.measures.registry import measures_compute
from evaluation.models import (
    BaselineScores,
    CohortCaseScore,
    CohortChunk,
    CohortExercise,
    CohortExerciseKind,
    CohortRun,
    CohortWorstCase,
)
from evaluation.pictures import case_picture_png, saliency_picture_png
from evaluation.scoring import (
    CaseResult,
    ScoringError,
    condition_score,
    harm,
    model_fingerprint,
    perturbed_image,
)
from runs.answers import AnswersRefused, run_answers_keep
from runs.models import ACTIVE_STATUSES, FINAL_STATUSES, RunStatus
from runs.services import (
    RunAbandoned,
    RunFailed,
    run_cancel,
    run_enqueue_on_commit,
    run_execute,
)
from zoo.base import Task, ZooError, torch_threads
from zoo.perturbations.registry import perturbation_get
from zoo.registry import UnknownModel, model_get

logger = logging.getLogger(__name__)
WORST_CASES = 6


class CohortRunRefused(Exception):
    """The request cannot become a run; the message is written for the resident."""


def _case_limit() -> int | None:
    """Settings may cap the cases a run scores (tests and demos on slow machines)."""
    return getattr(settings, "EVALUATION_CASE_LIMIT", None)


def cohort_run_conditions(exercise: CohortExercise) -> list[dict]:
    """What each case is scored under, reference first (see CohortRun.conditions)."""
    spec = cohort_get(exercise.cohort_key)
    if exercise.kind == CohortExerciseKind.SHORTCUT:
        return [
            {"label": VARIANT_LABELS[WITH_MARKER], "variant": WITH_MARKER, "severity": None},
            {"label": VARIANT_LABELS[WITHOUT_MARKER], "variant": WITHOUT_MARKER, "severity": None},
        ]
    if exercise.kind == CohortExerciseKind.MEASURE:
        return [
            {"label": VARIANT_LABELS[variant], "variant": variant, "severity": None}
            for variant in spec.variants
        ]
    perturbation = perturbation_get(exercise.perturbation_key)
    variant = spec.variants[0]
    conditions = [{"label": _("unperturbed"), "variant": variant, "severity": None}]
    for severity in exercise.severity_values:
        if severity > perturbation.severity_min:
            conditions.append(
                {
                    "label": f"{severity:g} {perturbation.severity_unit}",
                    "variant": variant,
                    "severity": severity,
                }
            )
    return conditions


def cohort_run_create(*, user, exercise: CohortExercise, lesson=None) -> CohortRun:
    """Validate, store a QUEUED run and enqueue it once the row is committed."""
    if not exercise.is_published:
        raise CohortRunRefused(_("This lab is not open for runs."))
    try:
        model_get(exercise.model_key)
        exercise.full_clean()
    except UnknownModel:
        raise CohortRunRefused(_("The model of this lab is no longer in the zoo.")) from None
    except ValidationError as error:  # the exercise was saved without its checks
        raise CohortRunRefused(
            _("This lab is not set up correctly; please tell your educator. (%(e)s)")
            % {"e": "; ".join(getattr(error, "messages", [str(error)]))}
        ) from None
    case_count = exercise.case_count
    limit = _case_limit()
    if limit:
        case_count = min(case_count, limit)
    with transaction.atomic():
        # Lock the user's row so two simultaneous submissions cannot both pass the limit.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        active = CohortRun.objects.filter(user=user, status__in=ACTIVE_STATUSES).count()
        allowed = getattr(settings, "EVALUATION_MAX_ACTIVE_PER_USER", 2)
        if active >= allowed:
            raise CohortRunRefused(
                _(
                    "You already have %(count)d cohort runs waiting or running. Wait for one "
                    "to finish or cancel one, then try again."
                )
                % {"count": active}
            )
        run = CohortRun.objects.create(
            exercise=exercise,
            user=user,
            lesson=lesson,
            kind=exercise.kind,
            model_key=exercise.model_key,
            cohort_key=exercise.cohort_key,
            perturbation_key=exercise.perturbation_key
            if exercise.kind == CohortExerciseKind.SWEEP
            else "",
            case_count=case_count,
            conditions=cohort_run_conditions(exercise),
            seed=secrets.randbelow(2**31),
            queued_at=timezone.now(),
        )
        run_enqueue_on_commit(run=run)
    return run


def _chunk_cases() -> int:
    """Cases per part of a sweep: small enough that a second worker finds parts to take
    and the last part does not keep the resident waiting, large enough that the claim and
    store of a part (a few queries) stay small beside scoring it."""
    return max(1, int(getattr(settings, "EVALUATION_CHUNK_CASES", 16)))


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def cohort_chunks_plan(*, run: CohortRun, condition_indexes: list[int]) -> list[CohortChunk]:
    """Split these conditions of the run into parts and offer the first waiting parts to
    the batch queue (EVALUATION_PART_OFFERS: a worker that takes one takes the next parts
    too, RunPolicy.next_run). Idempotent: a resumed run finds the parts it made, scored or
    not, and offers those still waiting."""
    size = _chunk_cases()
    now = timezone.now()
    CohortChunk.objects.bulk_create(
        [
            CohortChunk(
                run=run,
                condition_index=index,
                case_start=start,
                case_stop=min(start + size, run.case_count),
                queued_at=now,
            )
            for index in condition_indexes
            for start in range(0, run.case_count, size)
        ],
        ignore_conflicts=True,
    )
    chunks = list(
        CohortChunk.objects.filter(run=run, condition_index__in=condition_indexes).order_by(
            "condition_index", "case_start"
        )
    )
    waiting = [chunk for chunk in chunks if chunk.status == RunStatus.QUEUED]
    for chunk in waiting[: max(0, settings.EVALUATION_PART_OFFERS)]:
        run_enqueue_on_commit(run=chunk)
    return chunks


def _baseline_key(*, run: CohortRun, model, variant: str) -> dict:
    return {
        "model_key": run.model_key,
        "model_fingerprint": model_fingerprint(model),
        "cohort_key": run.cohort_key,
        "variant": variant,
        "case_count": run.case_count,
    }


def _baseline_results(baseline: BaselineScores) -> list[CaseResult]:
    return [
        CaseResult(score=score, dice=dice)
        for score, dice in zip(baseline.scores, baseline.dices, strict=True)
    ]


def _baseline_keep(*, key: dict, results: list[CaseResult]) -> BaselineScores:
    row, _created = BaselineScores.objects.get_or_create(
        **key,
        defaults={
            "scores": [result.score for result in results],
            "dices": [result.dice for result in results],
        },
    )
    return row


def cohort_run_execute(*, run_pk: int) -> CohortRun | None:
    """Run one cohort run through the engine, in this process (tests, the old task name)."""
    return run_execute(model_label="evaluation.CohortRun", run_pk=run_pk)


def cohort_run_compute(run: CohortRun, report):
    """The engine's compute step: score every case under every condition, summarise.

    The unperturbed conditions come from the cache when this model and cohort were scored
    before. The rest is split into parts (CohortChunk) offered to every worker on the
    batch queue; this worker scores parts too, so with no other worker free the run takes
    as long as it always did, and each free worker shortens it.
    """
    with torch_threads(settings.EVALUATION_TORCH_THREADS):
        return _cohort_run_scored(run, report)


def _cohort_run_scored(run: CohortRun, report):
    try:
        model = model_get(run.model_key)
        report(2, _("Building the cohort"))
        variants = cohort_variants(run.cohort_key, run.case_count)
        reference = variants[run.conditions[0]["variant"]]
        results: dict[int, list[CaseResult]] = {}
        measures: dict[int, dict] = {}  # condition index -> its threshold-free measures
        baselines: dict[int, BaselineScores] = {}  # condition index -> its cache row
        baseline_keys: dict[int, dict] = {}
        for index, condition in enumerate(run.conditions):
            if condition["severity"] is None:
                key = _baseline_key(run=run, model=model, variant=condition["variant"])
                cached = BaselineScores.objects.filter(**key).first()
                if cached is not None:
                    baselines[index], results[index] = cached, _baseline_results(cached)
                    if cached.measures:
                        measures[index] = cached.measures
                else:
                    baseline_keys[index] = key

        def condition_measured(index: int, condition_results: list[CaseResult]) -> None:
            measures[index] = _condition_measures(reference=reference, results=condition_results)

        to_score = [index for index in range(len(run.conditions)) if index not in results]
        results.update(
            _chunks_scored(
                run=run, condition_indexes=to_score, report=report, on_condition=condition_measured
            )
        )
        report(93, _("Measuring"))
        for index in range(len(run.conditions)):
            if index not in measures:  # a cached baseline kept without its measures
                condition_measured(index, results[index])
        for index, key in baseline_keys.items():
            baselines[index] = _baseline_keep(key=key, results=results[index])
        for index, baseline in baselines.items():
            if not baseline.measures:
                # A repeated exercise on this model and cohort then skips the bootstrap too.
                BaselineScores.objects.filter(pk=baseline.pk).update(measures=measures[index])
        ordered = [results[index] for index in range(len(run.conditions))]
        summary = _summary(run=run, measures=measures)
        summary["parts"] = _parts_summary(run)
        report(96, _("Drawing the worst cases"))
        worst = _worst_cases(run=run, model=model, variants=variants, results=ordered)
    except (ScoringError, ZooError, UnknownModel, ValueError) as error:
        raise RunFailed(str(error)) from None
    return partial(
        _cohort_run_store, reference=reference, results=ordered, summary=summary, worst=worst
    )


# How long a run waits before looking again at parts other workers are scoring: the
# last part of a sweep ends on another worker a few hundred milliseconds before the run
# can, so a coarse wait would be a large share of a short sweep. Each look is two queries.
CHUNK_WAIT_SECONDS = 0.05
# While it scores, a part checks that it and its run still stand at most this often (two
# queries). A part of 16 cases takes a tenth of a second or so and checks its run when it
# starts, so a cancel still stops a sweep within one part.
CHUNK_CHECK_SECONDS = 0.5


def _chunks_scored(
    *, run: CohortRun, condition_indexes: list[int], report, on_condition
) -> dict[int, list[CaseResult]]:
    """Score the conditions part by part, taking parts here until none is left to take,
    then waiting for those other workers hold. A part of a worker that died goes stale
    and is taken here too (run_claim takes a stale part), so the run never waits on a
    dead worker for longer than RUN_STALE_SECONDS.

    `on_condition(index, results)` is called here as soon as every part of a condition is
    in, before the next part is taken: the summary of the conditions already scored is
    computed while other workers still score, rather than all of it once they are done.
    """
    if not condition_indexes:
        return {}
    results: dict[int, list[CaseResult]] = {}
    chunk_pks = [
        chunk.pk for chunk in cohort_chunks_plan(run=run, condition_indexes=condition_indexes)
    ]
    total = run.case_count * len(run.conditions)
    already = run.case_count * (len(run.conditions) - len(condition_indexes))  # from the cache
    while True:
        # Statuses only: a condition's scores are read once, when its last part is in.
        chunks = list(CohortChunk.objects.filter(pk__in=chunk_pks).defer("scores", "dices"))
        ended = [
            chunk for chunk in chunks if chunk.status in (RunStatus.FAILED, RunStatus.CANCELLED)
        ]
        if ended:
            raise RunFailed(ended[0].error_message or _("A part of this run was cancelled."))
        done = [chunk for chunk in chunks if chunk.status == RunStatus.SUCCEEDED]
        scored = already + sum(len(chunk.case_range) for chunk in done)
        workers = len({chunk.worker for chunk in chunks if chunk.worker})
        report(
            2 + int(90 * scored / max(total, 1)),
            _("Scoring: %(done)d of %(total)d case-conditions (%(workers)d workers)")
            % {"done": scored, "total": total, "workers": max(workers, 1)},
        )
        for index in condition_indexes:
            parts = [chunk for chunk in chunks if chunk.condition_index == index]
            if index not in results and all(p.status == RunStatus.SUCCEEDED for p in parts):
                results[index] = _parts_results(
                    CohortChunk.objects.filter(pk__in=[part.pk for part in parts])
                )
                on_condition(index, results[index])
        if len(done) == len(chunks):
            break
        takeable = _chunk_takeable(CohortChunk.objects.filter(pk__in=chunk_pks))
        if takeable is None:
            time.sleep(CHUNK_WAIT_SECONDS)
        else:
            run_execute(model_label="evaluation.CohortChunk", run_pk=takeable, delivered=False)
    return results


def _parts_results(parts) -> list[CaseResult]:
    """One condition's scores, in case order, from its scored parts."""
    return [
        CaseResult(score=score, dice=dice)
        for part in parts.order_by("case_start")
        for score, dice in zip(part.scores, part.dices, strict=True)
    ]


def _chunk_takeable(chunks) -> int | None:
    """Of these parts, the first no live worker holds: waiting, or running without a
    recent heartbeat."""
    stale_before = timezone.now() - timedelta(seconds=settings.RUN_STALE_SECONDS)
    return (
        chunks.filter(
            Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING, heartbeat_at__lt=stale_before)
        )
        .order_by("condition_index", "case_start")
        .values_list("pk", flat=True)
        .first()
    )


def cohort_chunk_next(chunk_pk: int) -> int | None:
    """The part a worker takes next after the part a message handed it (RunPolicy.next_run):
    the next waiting part of the same sweep, at once, rather than one message per part,
    most of which would then find their part already taken."""
    run_pk = (
        CohortRun.objects.filter(chunks=chunk_pk, status__in=ACTIVE_STATUSES)
        .values_list("pk", flat=True)
        .first()
    )
    if run_pk is None:  # no such part, or its sweep ended
        return None
    return _chunk_takeable(CohortChunk.objects.filter(run_id=run_pk))


def _parts_summary(run: CohortRun) -> dict:
    """How the run's scoring was shared: parts and the worker processes that scored them."""
    workers = (
        CohortChunk.objects.filter(run=run, status=RunStatus.SUCCEEDED)
        .exclude(worker="")
        .values_list("worker", flat=True)
    )
    return {
        "count": CohortChunk.objects.filter(run=run).count(),
        "workers": len(set(workers)),
    }


def cohort_chunk_compute(chunk: CohortChunk, report):
    """The engine's compute step for one part: score its cases under its condition."""
    with torch_threads(settings.EVALUATION_TORCH_THREADS):
        return _cohort_chunk_scored(chunk, report)


def _cohort_chunk_scored(chunk: CohortChunk, report):
    run = CohortRun.objects.get(pk=chunk.run_id)
    _chunk_stop_if_run_ended(chunk, run_status=run.status)
    report(1, None, worker=_worker_name())
    condition = run.conditions[chunk.condition_index]
    cases = chunk.case_range
    scored = 0
    last_check = time.monotonic()

    def case_done(index: int) -> None:
        # Now and then (the checks are queries): the part's own report (cancelled or taken
        # over?) and its run's state.
        nonlocal scored, last_check
        scored += 1
        if time.monotonic() - last_check < CHUNK_CHECK_SECONDS:
            return
        last_check = time.monotonic()
        report(1 + int(98 * scored / len(cases)), None)
        _chunk_stop_if_run_ended(
            chunk, run_status=CohortRun.objects.values_list("status", flat=True).get(pk=run.pk)
        )

    try:
        model = model_get(run.model_key)
        cohort = cohort_variants(run.cohort_key, run.case_count)[condition["variant"]]
        results = condition_score(
            model=model,
            cohort=cohort,
            perturbation_key=run.perturbation_key or None,
            severity=condition["severity"],
            seed=run.seed,
            on_case=case_done,
            cases=cases,
        )
    except (ScoringError, ZooError, UnknownModel, ValueError) as error:
        raise RunFailed(str(error)) from None
    return partial(_chunk_store, results=results)


def _chunk_stop_if_run_ended(chunk: CohortChunk, *, run_status: str) -> None:
    if run_status in FINAL_STATUSES:
        run_cancel(run=chunk)
        raise RunAbandoned(chunk.pk)


def _chunk_store(held: CohortChunk, *, results: list[CaseResult]) -> None:
    held.scores = [result.score for result in results]
    held.dices = [result.dice for result in results]
    held.save(update_fields=["scores", "dices"])


def scored_cases(*, reference, results: list[CaseResult]) -> ScoredCases:
    return ScoredCases.from_lists(
        scores=[result.score for result in results],
        labels=reference.has_lesion,
        sites=reference.scanner,
        dices=[result.dice for result in results],
    )


def _condition_measures(*, reference, results: list[CaseResult]) -> dict:
    """One condition's threshold-free measures (AUC and CIs, ECE, sites, Dice)."""
    cases = scored_cases(reference=reference, results=results)
    measured = measures_compute(cases, OperatingPoint(), uses_operating_point=False)
    return {key: result.as_dict() for key, result in measured.items()}


def _summary(*, run: CohortRun, measures: dict[int, dict]) -> dict:
    """Per condition, its label, severity and measures (the unperturbed conditions' measures
    are kept with their cached scores, so a repeated exercise skips their bootstrap)."""
    return {
        "conditions": [
            {
                "label": condition["label"],
                "severity": condition["severity"],
                "measures": measures[index],
            }
            for index, condition in enumerate(run.conditions)
        ]
    }


def _worst_cases(*, run: CohortRun, model, variants, results) -> list[dict]:
    """The cases the last condition hurt most relative to the reference (condition 0)."""
    if len(results) < 2:
        return []
    first, last = run.conditions[0], run.conditions[-1]
    before_cohort, after_cohort = variants[first["variant"]], variants[last["variant"]]
    by_dice = model.task == Task.SEGMENTATION and any(r.dice is not None for r in results[0])
    harms = np.array(
        [
            harm(
                baseline=results[0][index],
                changed=results[-1][index],
                positive=bool(before_cohort.has_lesion[index]),
                by_dice=by_dice,
            )
            for index in range(len(before_cohort))
        ]
    )
    order = [int(i) for i in np.argsort(-harms, kind="stable") if harms[i] > 0][:WORST_CASES]
    worst = []
    for rank, index in enumerate(order, start=1):
        before = before_cohort.images[index]
        after = perturbed_image(
            after_cohort.images[index],
            perturbation_key=run.perturbation_key or None,
            severity=last["severity"],
            seed=run.seed + index,
            pixel_spacing_mm=after_cohort.pixel_spacing_mm,
        )
        organ = str(before_cohort.organ[index])
        entry = {
            "rank": rank,
            "case_index": index,
            "condition_index": len(results) - 1,
            "has_lesion": bool(before_cohort.has_lesion[index]),
            "site": str(before_cohort.scanner[index]),
            "score_before": results[0][index].score,
            "score_after": results[-1][index].score,
            "dice_before": results[0][index].dice,
            "dice_after": results[-1][index].dice,
            "before_image": case_picture_png(before, organ=organ),
            "after_image": case_picture_png(after, organ=organ),
            "saliency_image": b"",
            "saliency_share_on_marker": None,
        }
        if run.kind == CohortExerciseKind.SHORTCUT:
            picture, share = saliency_picture_png(
                model=model,
                image=before,
                organ=organ,
                pixel_spacing_mm=before_cohort.pixel_spacing_mm,
            )
            entry["saliency_image"], entry["saliency_share_on_marker"] = picture, share
        worst.append(entry)
    return worst


def _cohort_run_store(held: CohortRun, *, reference, results, summary, worst) -> None:
    """Keep the scores, summary and worst cases (inside the engine's completing transaction)."""
    held.summary = summary
    held.save(update_fields=["summary"])
    # Clear anything an earlier attempt left, so a completion is always whole.
    held.case_scores.all().delete()
    held.worst_cases.all().delete()
    CohortCaseScore.objects.bulk_create(
        CohortCaseScore(
            run=held,
            condition_index=condition_index,
            case_index=case_index,
            has_lesion=bool(reference.has_lesion[case_index]),
            site=str(reference.scanner[case_index]),
            organ=str(reference.organ[case_index]),
            score=result.score,
            dice=result.dice,
        )
        for condition_index, condition_results in enumerate(results)
        for case_index, result in enumerate(condition_results)
    )
    for entry in worst:
        pictures = {name: entry.pop(name) for name in CohortWorstCase.PICTURES}
        row = CohortWorstCase(run=held, **entry)
        for name, content in pictures.items():
            if content:
                getattr(row, name).save(f"{name}.png", ContentFile(content), save=False)
        row.save()


def cohort_run_answers_save(*, run: CohortRun, answers: dict[str, str]) -> CohortRun:
    """Keep the resident's answers to the exercise's questions on the run (see
    runs.answers): the questions ask about this run's result, so they are answered beside it,
    once it is in."""
    if run.status != RunStatus.SUCCEEDED:
        raise CohortRunRefused(_("The questions are about the result: answer once it is in."))
    try:
        return run_answers_keep(run=run, answers=answers)
    except AnswersRefused as refusal:
        raise CohortRunRefused(str(refusal)) from refusal
