"""Writes for cohort labs: create cohort runs, their compute and store steps.

A CohortRun is a durable run (runs app): the engine claims, heartbeats, cancels, sweeps
and finishes it. Scores are kept per case and condition; the threshold-free measures are
computed once, at the end, into `summary`.
"""

from __future__ import annotations

import logging
import secrets
from functools import partial

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
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
from runs.models import ACTIVE_STATUSES, RunStatus
from runs.services import RunFailed, run_enqueue_on_commit, run_execute
from zoo.base import Task, ZooError
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


class _Progress:
    """Turns 'case k of condition c' into percent, writing only when the percent moves."""

    def __init__(self, *, progress, total_cases: int) -> None:
        self.progress, self.total, self.done, self.last = progress, max(total_cases, 1), 0, -1

    def case_done(self, label: str) -> None:
        self.done += 1
        percent = 2 + int(90 * self.done / self.total)
        if percent != self.last:
            self.last = percent
            self.progress(
                percent,
                _("Scoring %(label)s: %(done)d of %(total)d case-conditions")
                % {"label": label, "done": self.done, "total": self.total},
            )


def _baseline_scores(
    *, run, model, cohort, variant: str, progress: _Progress, label: str
) -> tuple[BaselineScores, list[CaseResult]]:
    """The unperturbed scores (and their cache row), from the cache when this model and
    cohort were scored before."""
    key = {
        "model_key": run.model_key,
        "model_fingerprint": model_fingerprint(model),
        "cohort_key": run.cohort_key,
        "variant": variant,
        "case_count": run.case_count,
    }
    cached = BaselineScores.objects.filter(**key).first()
    if cached is not None:
        progress.done += len(cohort)
        return cached, [
            CaseResult(score=score, dice=dice)
            for score, dice in zip(cached.scores, cached.dices, strict=True)
        ]
    results = condition_score(
        model=model,
        cohort=cohort,
        perturbation_key=None,
        severity=None,
        seed=0,
        on_case=lambda index: progress.case_done(label),
    )
    row, _created = BaselineScores.objects.get_or_create(
        **key,
        defaults={
            "scores": [result.score for result in results],
            "dices": [result.dice for result in results],
        },
    )
    return row, results


def cohort_run_execute(*, run_pk: int) -> CohortRun | None:
    """Run one cohort run through the engine, in this process (tests, the old task name)."""
    return run_execute(model_label="evaluation.CohortRun", run_pk=run_pk)


def cohort_run_compute(run: CohortRun, report):
    """The engine's compute step: score every case under every condition, summarise."""
    import torch

    # One thread per worker process: two workers on two cores beat one worker on two.
    torch.set_num_threads(1)
    try:
        model = model_get(run.model_key)
        report(2, _("Building the cohort"))
        variants = cohort_variants(run.cohort_key, run.case_count)
        progress = _Progress(progress=report, total_cases=run.case_count * len(run.conditions))
        results: list[list[CaseResult]] = []
        baselines: dict[int, BaselineScores] = {}  # condition index -> its cache row
        for condition in run.conditions:
            cohort = variants[condition["variant"]]
            if condition["severity"] is None:
                baseline, scores = _baseline_scores(
                    run=run,
                    model=model,
                    cohort=cohort,
                    variant=condition["variant"],
                    progress=progress,
                    label=condition["label"],
                )
                baselines[len(results)] = baseline
                results.append(scores)
            else:
                results.append(
                    condition_score(
                        model=model,
                        cohort=cohort,
                        perturbation_key=run.perturbation_key,
                        severity=condition["severity"],
                        seed=run.seed,
                        on_case=lambda index, label=condition["label"]: progress.case_done(label),
                    )
                )
        report(93, _("Measuring"))
        reference = variants[run.conditions[0]["variant"]]
        summary = _summary(run=run, reference=reference, results=results, baselines=baselines)
        report(96, _("Drawing the worst cases"))
        worst = _worst_cases(run=run, model=model, variants=variants, results=results)
    except (ScoringError, ZooError, UnknownModel, ValueError) as error:
        raise RunFailed(str(error)) from None
    return partial(
        _cohort_run_store, reference=reference, results=results, summary=summary, worst=worst
    )


def scored_cases(*, reference, results: list[CaseResult]) -> ScoredCases:
    return ScoredCases.from_lists(
        scores=[result.score for result in results],
        labels=reference.has_lesion,
        sites=reference.scanner,
        dices=[result.dice for result in results],
    )


def _summary(
    *,
    run: CohortRun,
    reference,
    results: list[list[CaseResult]],
    baselines: dict[int, BaselineScores],
) -> dict:
    """Per condition, the threshold-free measures (AUC and CIs, ECE, sites, Dice).

    The unperturbed conditions' measures are kept with their cached scores, so a repeated
    exercise on the same model and cohort skips the bootstrap as well as the model.
    """
    per_condition = []
    for index, (condition, condition_results) in enumerate(
        zip(run.conditions, results, strict=True)
    ):
        baseline = baselines.get(index)
        if baseline is not None and baseline.measures:
            measures = baseline.measures
        else:
            cases = scored_cases(reference=reference, results=condition_results)
            measured = measures_compute(cases, OperatingPoint(), uses_operating_point=False)
            measures = {key: result.as_dict() for key, result in measured.items()}
            if baseline is not None:
                BaselineScores.objects.filter(pk=baseline.pk).update(measures=measures)
        per_condition.append(
            {"label": condition["label"], "severity": condition["severity"], "measures": measures}
        )
    return {"conditions": per_condition}


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
