"""Writes for labs: create, claim, execute, cancel and sweep lab runs.

The LabRun row is the record of work. A run is created QUEUED and its task enqueued only
after the transaction commits; a worker *claims* the row (QUEUED -> RUNNING, attempts + 1)
under a row lock and from then on writes only while the row still carries its attempt
number. So a re-delivered or duplicated message is harmless, a run taken over by the
sweeper is never written by the worker that lost it, and a lost message is found again
from the row by `lab_runs_requeue_stale`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from labs.computation import BreakItResult, IncompatibleInput, break_it_compute
from labs.models import (
    ACTIVE_STATUSES,
    LabExercise,
    LabRun,
    LabRunStatus,
    UploadedModel,
    UploadedModelStatus,
)
from labs.rendering import labels_overlay, png_bytes, window_to_grey
from labs.zoo.base import SpecMismatch
from studies.selectors import StudyNotFound

logger = logging.getLogger(__name__)


class LabRunRefused(Exception):
    """The request cannot become a run; the message is written for the resident."""


class LabRunAbandoned(Exception):
    """The run was cancelled or handed to another worker while this one computed."""


def _severity_validate(*, exercise: LabExercise, severity) -> float:
    try:
        value = float(severity)
    except (TypeError, ValueError):
        raise LabRunRefused(_("Severity must be a number.")) from None
    low, high = exercise.severity_range
    if not low <= value <= high:
        unit = exercise.perturbation.severity_unit
        raise LabRunRefused(
            _("Severity must lie between %(low)g and %(high)g %(unit)s.")
            % {"low": low, "high": high, "unit": unit}
        )
    return value


def lab_run_create(*, user, exercise: LabExercise, lesson=None, severity, seed=None) -> LabRun:
    """Validate the request, store a QUEUED run and enqueue it once the row is committed."""
    if not exercise.is_runnable:
        raise LabRunRefused(_("This lab is not open for runs."))
    value = _severity_validate(exercise=exercise, severity=severity)
    with transaction.atomic():
        # Lock the user's row so two simultaneous submissions cannot both pass the limit.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        active = LabRun.objects.filter(user=user, status__in=ACTIVE_STATUSES).count()
        if active >= settings.LAB_RUN_MAX_ACTIVE_PER_USER:
            raise LabRunRefused(
                _(
                    "You already have %(count)d runs waiting or running. Wait for one to "
                    "finish or cancel one, then try again."
                )
                % {"count": active}
            )
        run = LabRun.objects.create(
            exercise=exercise,
            user=user,
            lesson=lesson,
            parameters={
                "study_key": exercise.study_key,
                "model_key": exercise.model_key,
                "perturbation_key": exercise.perturbation_key,
                "severity": value,
                "seed": int(seed) if seed is not None else secrets.randbelow(2**31),
            },
            queued_at=timezone.now(),
        )
        transaction.on_commit(lambda: lab_run_enqueue(run_pk=run.pk))
    return run


def lab_run_enqueue(*, run_pk: int) -> None:
    """Hand the run to the broker. A broker that is down loses nothing: the sweeper retries."""
    from labs.tasks import lab_run_execute_task

    try:
        lab_run_execute_task.apply_async(kwargs={"run_pk": run_pk})
    except Exception:
        logger.exception("Could not enqueue lab run %s; the sweeper will retry.", run_pk)


def lab_run_claim(*, run_pk: int) -> LabRun | None:
    """Take the run for this worker, or return None when there is nothing to do.

    Nothing to do: the run is finished or cancelled, or another worker holds it and is
    still reporting progress. A RUNNING row with a stale heartbeat is a worker that died
    mid-run (the broker re-delivered the message), and is taken over.
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.LAB_RUN_STALE_SECONDS)
    with transaction.atomic():
        run = LabRun.objects.select_for_update().filter(pk=run_pk).first()
        if run is None or run.status not in ACTIVE_STATUSES:
            return None
        if run.status == LabRunStatus.RUNNING and run.heartbeat_at >= stale_before:
            return None
        if run.attempts >= settings.LAB_RUN_MAX_ATTEMPTS:
            _run_fail(
                run, _("The lab stopped %(n)d times; it was not retried.") % {"n": run.attempts}
            )
            return None
        run.status = LabRunStatus.RUNNING
        run.attempts += 1
        run.started_at = run.heartbeat_at = now
        run.progress_percent, run.progress_message = 1, _("Starting")
        run.error_message = ""
        run.save()
        return run


def lab_run_progress_report(*, run: LabRun, percent: int, message: str) -> None:
    """Record progress and prove this worker still holds the run (raises LabRunAbandoned)."""
    updated = LabRun.objects.filter(
        pk=run.pk, status=LabRunStatus.RUNNING, attempts=run.attempts
    ).update(progress_percent=percent, progress_message=message, heartbeat_at=timezone.now())
    if not updated:
        raise LabRunAbandoned(run.pk)
    if settings.LAB_RUN_STEP_PAUSE_SECONDS:
        time.sleep(settings.LAB_RUN_STEP_PAUSE_SECONDS)


def _run_fail(run: LabRun, message: str) -> None:
    run.status = LabRunStatus.FAILED
    run.error_message = message
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error_message", "finished_at"])


def lab_run_execute(*, run_pk: int) -> LabRun | None:
    """Claim the run, compute it and store its outputs. Safe to call any number of times."""
    run = lab_run_claim(run_pk=run_pk)
    if run is None:
        return None
    params = run.parameters
    try:
        result = break_it_compute(
            study_key=params["study_key"],
            model_key=params["model_key"],
            perturbation_key=params["perturbation_key"],
            severity=params["severity"],
            seed=params["seed"],
            on_progress=lambda percent, message: lab_run_progress_report(
                run=run, percent=percent, message=message
            ),
        )
        lab_run_progress_report(run=run, percent=95, message=_("Drawing the result"))
        outputs = lab_run_pictures_render(result)
    except LabRunAbandoned:
        logger.info("Lab run %s was cancelled or taken over; dropping this attempt.", run.pk)
        return None
    except (IncompatibleInput, StudyNotFound) as error:
        _run_fail(run, str(error))
        return run
    except Exception:
        logger.exception("Lab run %s failed", run.pk)
        _run_fail(run, _("The lab failed on the worker. The error has been logged."))
        return run
    return _lab_run_complete(run=run, result=result, outputs=outputs)


def lab_run_pictures_render(result: BreakItResult) -> dict[str, bytes]:
    # A soft-tissue window (W 400 / L 40) shows all four tissue classes at once.
    original = window_to_grey(result.original, centre=40, width=400)
    perturbed = window_to_grey(result.perturbed, centre=40, width=400)
    upscale = max(1, 512 // max(result.original.shape))
    return {
        "original_image": png_bytes(original, upscale=upscale),
        "perturbed_image": png_bytes(perturbed, upscale=upscale),
        "original_overlay": png_bytes(
            labels_overlay(original, result.prediction_original.labels), upscale=upscale
        ),
        "perturbed_overlay": png_bytes(
            labels_overlay(perturbed, result.prediction_perturbed.labels), upscale=upscale
        ),
    }


def _lab_run_complete(
    *, run: LabRun, result: BreakItResult, outputs: dict[str, bytes]
) -> LabRun | None:
    with transaction.atomic():
        locked = LabRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != LabRunStatus.RUNNING or locked.attempts != run.attempts:
            return None
        for field_name, content in outputs.items():
            getattr(locked, field_name).save(f"{field_name}.png", ContentFile(content), save=False)
        locked.metrics = result.metrics
        locked.status = LabRunStatus.SUCCEEDED
        locked.progress_percent, locked.progress_message = 100, _("Done")
        locked.finished_at = timezone.now()
        locked.save()
        return locked


def lab_run_cancel(*, run: LabRun) -> bool:
    """Cancel a waiting or running run; the worker notices at its next progress report."""
    updated = LabRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
        status=LabRunStatus.CANCELLED,
        finished_at=timezone.now(),
        progress_message=_("Cancelled"),
    )
    return bool(updated)


def lab_runs_requeue_stale(*, now=None) -> list[int]:
    """Find runs whose message or worker was lost and enqueue them again.

    QUEUED for longer than the stale interval: the message never reached a worker (broker
    restarted, enqueue failed). RUNNING without a heartbeat for that long: the worker died.
    Re-enqueueing a run that is in fact still waiting is harmless: `lab_run_claim` lets
    only one attempt through.
    """
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.LAB_RUN_STALE_SECONDS)
    stale = LabRun.objects.filter(
        status=LabRunStatus.QUEUED, queued_at__lt=stale_before
    ) | LabRun.objects.filter(status=LabRunStatus.RUNNING, heartbeat_at__lt=stale_before)
    requeued = []
    for run_pk in stale.values_list("pk", flat=True):
        LabRun.objects.filter(pk=run_pk, status=LabRunStatus.QUEUED).update(queued_at=now)
        lab_run_enqueue(run_pk=run_pk)
        requeued.append(run_pk)
    if requeued:
        logger.warning("Re-enqueued stale lab runs: %s", requeued)
    return requeued


# --- Educators' own models ----------------------------------------------------------------


class ModelUploadRefused(Exception):
    """The upload cannot be stored; the message is written for the educator."""


def uploaded_model_create(*, user, title: str, upload, spec) -> UploadedModel:
    """Check the spec and the archive, store both, and queue validation on the batch queue.

    Refuses (ModelUploadRefused) oversize files, inconsistent specs, pickles and state dicts
    before anything is stored.
    """
    from labs.zoo.uploaded import torchscript_archive_check

    problems = spec.problems()
    if problems:
        raise ModelUploadRefused(" ".join(problems))
    if upload.size > settings.ZOO_UPLOAD_MAX_BYTES:
        raise ModelUploadRefused(
            _("The file is %(size)d MB; the limit is %(limit)d MB.")
            % {"size": upload.size // 2**20, "limit": settings.ZOO_UPLOAD_MAX_BYTES // 2**20}
        )
    with tempfile.NamedTemporaryFile(suffix=".pt") as staged:
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
            staged.write(chunk)
        staged.flush()
        try:
            torchscript_archive_check(path=Path(staged.name))
        except SpecMismatch as error:
            raise ModelUploadRefused(str(error)) from None
        with transaction.atomic():
            model = UploadedModel(
                title=title,
                uploaded_by=user,
                archive_sha256=digest.hexdigest(),
                spec=spec.to_json(),
            )
            staged.seek(0)
            model.archive.save(f"{digest.hexdigest()[:16]}.pt", File(staged), save=False)
            model.save()
            transaction.on_commit(lambda: uploaded_model_validation_enqueue(model_pk=model.pk))
    return model


def uploaded_model_validation_enqueue(*, model_pk: int) -> None:
    from labs.tasks import uploaded_model_validate_task

    try:
        uploaded_model_validate_task.apply_async(kwargs={"model_pk": model_pk})
    except Exception:
        logger.exception("Could not enqueue validation of uploaded model %s.", model_pk)


def _child_limits() -> None:
    # Runs in the child between fork and exec: cap the heap (private anonymous memory, which
    # is where tensors live) so a model cannot take the worker's memory with it.
    limit = settings.ZOO_UPLOAD_MEMORY_BYTES
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def uploaded_model_validate(*, model_pk: int) -> UploadedModel:
    """Run the upload on its modality's sample study in a limited child process.

    Idempotent: a model that already has a verdict is returned unchanged.
    """
    from labs.zoo.uploaded import UploadSpec
    from studies.selectors import VALIDATION_SAMPLE_BY_MODALITY, study_series_load

    model = UploadedModel.objects.get(pk=model_pk)
    if model.status != UploadedModelStatus.PENDING:
        return model
    spec = UploadSpec.from_json(model.spec)
    sample = study_series_load(study_key=VALIDATION_SAMPLE_BY_MODALITY[spec.modality]).pixels[0]
    with tempfile.TemporaryDirectory() as scratch:
        spec_path, sample_path = Path(scratch) / "spec.json", Path(scratch) / "sample.npy"
        spec_path.write_text(json.dumps(spec.to_json()))
        np.save(sample_path, sample)
        command = [
            sys.executable,
            "-m",
            "labs.zoo.uploaded",
            model.archive.path,
            str(spec_path),
            str(sample_path),
        ]
        try:
            completed = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=settings.ZOO_UPLOAD_TIMEOUT_SECONDS,
                preexec_fn=_child_limits,
                check=False,
            )
            verdict = _validation_verdict(completed)
        except subprocess.TimeoutExpired:
            verdict = {
                "ok": False,
                "message": _("The model did not finish on the sample study within %(s)g s.")
                % {"s": settings.ZOO_UPLOAD_TIMEOUT_SECONDS},
            }
    model.status = UploadedModelStatus.VALID if verdict["ok"] else UploadedModelStatus.INVALID
    model.validation_message = (
        _("Ran on the %(modality)s sample in %(seconds).2f s; output shape %(shape)s.")
        % {"modality": spec.modality, "seconds": verdict["seconds"], "shape": verdict["shape"]}
        if verdict["ok"]
        else verdict["message"]
    )
    model.validated_at = timezone.now()
    model.save(update_fields=["status", "validation_message", "validated_at"])
    return model


def _validation_verdict(completed: subprocess.CompletedProcess) -> dict:
    lines = completed.stdout.strip().splitlines()
    if completed.returncode == 0 and lines:
        try:
            return json.loads(lines[-1])
        except json.JSONDecodeError:
            pass
    if completed.returncode < 0:
        return {
            "ok": False,
            "message": _("The model crashed the validation process (signal %(n)d).")
            % {"n": -completed.returncode},
        }
    tail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
    if "memory" in tail.lower() or "allocate" in tail.lower():
        return {"ok": False, "message": _("The model ran out of its memory allowance.")}
    return {"ok": False, "message": _("The model could not be run: %(tail)s") % {"tail": tail}}
