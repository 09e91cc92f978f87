"""Writes for labs: create lab runs, their compute and store steps, answers, uploads.

A LabRun is a durable run (runs app): the engine claims, heartbeats, cancels, sweeps and
finishes it; labs supplies what is its own — the validated parameters, `lab_run_compute`
(the model, perturbation, explainers and pictures) and the store step it returns.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from labs.computation import (
    IncompatibleInput,
    LabRequest,
    LabResult,
    finite_metrics,
    lab_compute,
)
from labs.models import (
    LabExercise,
    LabKind,
    LabRun,
    LabRunStatus,
    UploadedModel,
    UploadedModelStatus,
)
from labs.offers import offer_validate
from runs.answers import AnswersRefused, run_answers_keep
from runs.files import local_path
from runs.services import (
    RunFailed,
    RunTimedOut,
    run_enqueue_on_commit,
    run_execute,
    task_send,
    timed_out_message,
)
from studies.selectors import StudyNotFound
from zoo.base import (
    ClassificationOutput,
    DetectionOutput,
    SegmentationOutput,
    SpecMismatch,
)
from zoo.explainers.registry import explainer_get
from zoo.rendering import (
    boxes_draw,
    derived_dicom_bytes,
    heatmap_overlay,
    heatmap_png,
    label_colour_hex,
    labelmap_png,
    labels_overlay_any,
    png_bytes,
    window_to_grey,
)

logger = logging.getLogger(__name__)


class LabRunRefused(Exception):
    """The request cannot become a run; the message is written for the resident."""


def _model_key_validate(*, exercise: LabExercise, user, model_key) -> str:
    """The exercise's model, or one the resident trained themselves (model builder)."""
    from labs.selectors import lab_own_model_choices

    if model_key in (None, "", exercise.model_key):
        return exercise.model_key
    if user is not None and model_key in dict(lab_own_model_choices(user=user)):
        return model_key
    raise LabRunRefused(_("This lab runs with its own model or with a model you trained yourself."))


def _explainer_keys_validate(*, exercise: LabExercise, chosen) -> list[str]:
    offered = [explainer.key for explainer in exercise.explainers]
    if chosen is None:
        return offered
    kept = [key for key in offered if key in set(chosen)]
    if set(chosen) - set(offered):
        raise LabRunRefused(_("This lab does not offer that explainer."))
    if offered and not kept and exercise.kind == LabKind.EXPLAIN:
        raise LabRunRefused(_("Tick at least one explainer: an explain lab draws maps."))
    return kept


# The viewer's marks JSON (templates/viewer/viewer.html, answer_field) is small; a longer
# text is not a box drawn by hand.
PROMPT_MAX_CHARACTERS = 20_000


def prompt_box_parse(*, exercise: LabExercise, prompt) -> tuple[int, list[float]]:
    """(1-based image number, [column0, row0, column1, row1] in pixel indices) of the box
    the resident drew in the lab's viewer, from the viewer's marks JSON (LabRunRefused).

    The viewer gives corners with (0, 0) at the top-left corner of the first pixel; the
    model takes pixel indices (centres), so half a pixel comes off. The last box drawn on
    this study's image series is the prompt; its image is found by SOP Instance UID.
    """
    import json
    import math

    from labs.selectors import study_image_sop_uids

    missing = LabRunRefused(_("Draw a box around the structure on the image first (Box tool)."))
    if not prompt:
        raise missing
    if len(str(prompt)) > PROMPT_MAX_CHARACTERS:
        raise LabRunRefused(_("Too many marks on the image; clear them and draw one box."))
    try:
        marks = json.loads(prompt).get("marks", [])
    except (ValueError, AttributeError):
        raise missing from None
    uids = study_image_sop_uids(study_key=exercise.study_key)
    if not isinstance(marks, list):
        raise missing
    boxes = [mark for mark in marks if isinstance(mark, dict) and mark.get("kind") == "box"]
    for mark in reversed(boxes):
        uid = mark.get("sopInstanceUID")
        corners = mark.get("image")
        if uid not in uids or not isinstance(corners, list) or len(corners) < 2:
            continue
        try:
            (c0, r0), (c1, r1) = ((float(x), float(y)) for x, y in corners[:2])
        except (TypeError, ValueError):
            continue
        if not all(math.isfinite(v) for v in (c0, r0, c1, r1)):
            continue
        box = [min(c0, c1) - 0.5, min(r0, r1) - 0.5, max(c0, c1) - 0.5, max(r0, r1) - 0.5]
        if box[2] - box[0] < 3 or box[3] - box[1] < 3:
            raise LabRunRefused(_("The box is too small: draw it around the whole structure."))
        return uids.index(uid) + 1, [round(v, 2) for v in box]
    raise missing


def lab_run_parameters_validate(
    *,
    exercise: LabExercise,
    perturbation_key=None,
    severity=None,
    slice_number=None,
    user=None,
    model_key=None,
    explainer_keys=None,
    prompt=None,
) -> dict:
    """The run's parameters, checked against what the exercise offers (LabRunRefused).

    `explainer_keys`: the explainers the resident kept ticked (None: all the exercise
    offers), so a run that was too slow can be asked again with fewer.
    """
    from labs.selectors import exercise_default_slice, study_image_count

    count = study_image_count(study_key=exercise.study_key)
    if count < 1:
        raise LabRunRefused(_("This lab's study is not in the library; tell your educator."))
    if slice_number in (None, ""):
        number = exercise_default_slice(exercise)
    else:
        try:
            number = int(slice_number)
        except (TypeError, ValueError):
            raise LabRunRefused(_("The image number must be a whole number.")) from None
        if not 1 <= number <= count:
            raise LabRunRefused(_("Choose an image between 1 and %(count)d.") % {"count": count})
    parameters = {
        "kind": exercise.kind,
        "study_key": exercise.study_key,
        "model_key": _model_key_validate(exercise=exercise, user=user, model_key=model_key),
        "slice_number": number,
        "explainer_keys": _explainer_keys_validate(exercise=exercise, chosen=explainer_keys),
        "sanity_check": exercise.kind == LabKind.EXPLAIN,
        "perturbation_key": "",
        "severity": 0.0,
    }
    if exercise.kind == LabKind.PROMPT:
        # The box decides the image: it is drawn on one.
        parameters["slice_number"], parameters["box"] = prompt_box_parse(
            exercise=exercise, prompt=prompt
        )
        if perturbation_key in (None, ""):
            return parameters
    # Break-it labs must perturb; an explain lab perturbs when it offers a perturbation,
    # so residents compare the maps of the original and the perturbed image.
    if exercise.offers_perturbation:
        offers = exercise.offers
        if not offers:
            raise LabRunRefused(_("This lab offers no perturbation yet; tell your educator."))
        offer = offers[0] if perturbation_key in (None, "") else exercise.offer(perturbation_key)
        if offer is None:
            raise LabRunRefused(_("This lab does not offer that perturbation."))
        try:
            parameters["severity"] = offer_validate(offer, severity)
        except ValueError as error:
            raise LabRunRefused(str(error)) from None
        parameters["perturbation_key"] = offer.key
    return parameters


def lab_run_create(
    *,
    user,
    exercise: LabExercise,
    lesson=None,
    severity=None,
    perturbation_key=None,
    slice_number=None,
    seed=None,
    model_key=None,
    explainer_keys=None,
    prompt=None,
) -> LabRun:
    """Validate the request, store a QUEUED run and enqueue it once the row is committed."""
    if not exercise.is_runnable:
        raise LabRunRefused(_("This lab is not open for runs."))
    parameters = lab_run_parameters_validate(
        exercise=exercise,
        perturbation_key=perturbation_key,
        severity=severity,
        slice_number=slice_number,
        user=user,
        model_key=model_key,
        explainer_keys=explainer_keys,
        prompt=prompt,
    )
    parameters["seed"] = int(seed) if seed is not None else secrets.randbelow(2**31)
    with transaction.atomic():
        # Lock the user's row so two simultaneous submissions cannot both pass the limits.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        mine = LabRun.objects.filter(user=user)
        waiting = mine.filter(status=LabRunStatus.QUEUED).count()
        active = waiting + mine.filter(status=LabRunStatus.RUNNING).count()
        if waiting >= settings.LAB_RUN_MAX_QUEUED_PER_USER:
            raise LabRunRefused(
                _(
                    "You already have %(count)d runs waiting in the queue. Wait until one "
                    "has started or cancel one, then try again."
                )
                % {"count": waiting}
            )
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
            parameters=parameters,
            queued_at=timezone.now(),
        )
        run_enqueue_on_commit(run=run)
    return run


def lab_request_from_parameters(parameters: dict) -> LabRequest:
    """The computation's request from a run's stored parameters (older runs included)."""
    return LabRequest(
        kind=parameters.get("kind", LabKind.BREAK_IT),
        study_key=parameters["study_key"],
        model_key=parameters["model_key"],
        slice_index=int(parameters.get("slice_number", 1)) - 1,
        perturbation_key=parameters.get("perturbation_key", ""),
        severity=float(parameters.get("severity", 0.0)),
        seed=int(parameters.get("seed", 0)),
        explainer_keys=tuple(parameters.get("explainer_keys", ())),
        sanity_check=bool(parameters.get("sanity_check", False)),
        box=tuple(parameters["box"]) if parameters.get("box") else None,
    )


def lab_run_execute(*, run_pk: int) -> LabRun | None:
    """Run one lab run through the engine, in this process (tests, the old task name)."""
    return run_execute(model_label="labs.LabRun", run_pk=run_pk)


def lab_run_compute(run: LabRun, progress):
    """The engine's compute step for a lab run: returns its store step.

    A run stopped for time after its predictions keeps what finished (the outputs and the
    maps drawn so far) and says which explainers to untick to finish within the limit.
    """
    from celery.exceptions import SoftTimeLimitExceeded

    from labs.selectors import study_image_paths, study_seg_paths

    request = lab_request_from_parameters(run.parameters)
    started: dict[str, LabResult] = {}
    try:
        result = lab_compute(
            request=request,
            paths=study_image_paths(study_key=request.study_key),
            seg_paths=study_seg_paths(study_key=request.study_key),
            on_progress=progress,
            max_network_passes=settings.LAB_RUN_MAX_NETWORK_PASSES,
            on_partial=lambda partial_result: started.update(result=partial_result),
        )
    except (IncompatibleInput, StudyNotFound) as error:
        raise RunFailed(str(error)) from None
    except (RunTimedOut, SoftTimeLimitExceeded):
        finished = started.get("result")
        if finished is None:
            raise
        finished.metrics = finite_metrics(finished.metrics)
        raise RunFailed(
            lab_run_stopped_message(run=run, result=finished),
            store=partial(
                _lab_run_store,
                result=finished,
                outputs=lab_outputs_render(finished, run_pk=run.pk),
                stopped=True,
            ),
        ) from None
    progress(95, _("Drawing the result"))
    outputs = lab_outputs_render(result, run_pk=run.pk)
    return partial(_lab_run_store, result=result, outputs=outputs)


def lab_run_stopped_message(*, run: LabRun, result: LabResult) -> str:
    """What a resident reads when the run hit its time limit: what finished, and a next
    step the lab form offers (untick the costliest explainer that did not finish)."""
    request = result.request
    titles = {key: explainer_get(key).title for key in request.explainer_keys}
    done = [titles[key] for key in request.explainer_keys if (key, "original") in result.saliency]
    missing = [key for key in request.explainer_keys if titles[key] not in done]
    parts = [timed_out_message(LabRun.run_policy())]
    if done:
        parts.append(
            _("The model's output and these maps finished and are shown below: %(done)s.")
            % {"done": ", ".join(done)}
        )
    else:
        parts.append(_("The model's output finished and is shown below; no map did."))
    if missing:
        costliest = max(missing, key=lambda key: explainer_get(key).network_passes)
        parts.append(
            _(
                "To finish within the limit, run it again with %(title)s unticked under "
                "“Explainers” (it needs the most passes through the network)."
            )
            % {"title": titles[costliest]}
        )
    elif request.sanity_check:
        parts.append(
            _(
                "Only the randomisation check was left: run it again with fewer explainers "
                "ticked, or ask your educator to lighten the exercise."
            )
        )
    return " ".join(str(part) for part in parts)


def _display_window(result: LabResult) -> tuple[float, float]:
    if result.source.modality == "CT":
        return 40.0, 400.0  # soft tissue (W 400 / L 40): every tissue class at once
    low, high = np.percentile(result.original, [1, 99])
    return float((low + high) / 2), float(max(high - low, 1e-6))


def lab_outputs_render(result: LabResult, *, run_pk: int = 0) -> dict[str, bytes]:
    """Every file a run keeps, by name: derived DICOM, the viewer's layers (labelmaps and
    heatmaps at the image's size), and composite PNGs for pages without the viewer."""
    from pydicom.uid import generate_uid

    centre, width = _display_window(result)
    images = {"original": result.original}
    predictions = {"original": result.prediction_original}
    if result.perturbed is not None:
        images["perturbed"] = result.perturbed
        predictions["perturbed"] = result.prediction_perturbed
    request = result.request
    files: dict[str, bytes] = {}
    for which, image in images.items():
        derivation = (
            f"Lab run {run_pk}: {request.perturbation_key} at severity {request.severity:g}"
            if which == "perturbed"
            else f"Lab run {run_pk}: the library image as the model read it"
        )
        files[f"{which}.dcm"] = derived_dicom_bytes(
            result.source.dataset,
            values=image,
            series_uid=generate_uid(),
            description=f"Lab run {run_pk} {which}",
            derivation=derivation,
        )
        grey = window_to_grey(image, centre=centre, width=width)
        files[f"{which}-view.png"] = png_bytes(grey)
        prediction = predictions[which]
        picture = np.repeat(grey[..., None], 3, axis=2)
        if isinstance(prediction, SegmentationOutput):
            files[f"prediction-{which}.png"] = labelmap_png(prediction.labels)
            picture = labels_overlay_any(grey, prediction.labels)
            if prediction.findings is not None:
                picture = boxes_draw(picture.copy(), prediction.findings.boxes)
        elif isinstance(prediction, DetectionOutput):
            picture = boxes_draw(picture.copy(), prediction.boxes)
        if request.box is not None:
            column0, row0, column1, row1 = (round(v) for v in request.box)
            picture = boxes_draw(
                picture.copy(), [row0, column0, row1, column1], colour=(255, 200, 0)
            )
        files[f"prediction-{which}-view.png"] = png_bytes(picture)
        for key in request.explainer_keys:
            saliency = result.saliency.get((key, which))
            if saliency is None:
                continue
            files[f"saliency-{key}-{which}.png"] = heatmap_png(saliency.values)
            files[f"saliency-{key}-{which}-view.png"] = png_bytes(
                heatmap_overlay(grey, saliency.values)
            )
    grey = window_to_grey(result.original, centre=centre, width=width)
    for (key, stage), values in result.sanity_maps.items():
        files[f"sanity-{key}-{stage}.png"] = heatmap_png(values)
        files[f"sanity-{key}-{stage}-view.png"] = png_bytes(heatmap_overlay(grey, values))
    return files


def lab_result_summary(result: LabResult) -> dict:
    """What the result page shows besides the metrics, as JSON."""

    def prediction_summary(output) -> dict:
        summary: dict = {"type": type(output).__name__}
        if isinstance(output, ClassificationOutput):
            summary["probabilities"] = [
                [name, float(p)]
                for name, p in zip(output.class_names, output.probabilities, strict=True)
            ]
            summary["predicted"] = output.predicted
        if isinstance(output, SegmentationOutput):
            counts = np.bincount(output.labels.ravel(), minlength=len(output.class_names))
            summary["areas"] = [
                [name, int(count)] for name, count in zip(output.class_names, counts, strict=False)
            ]
            if output.case is not None:
                summary["case"] = prediction_summary(output.case)
            if output.findings is not None:
                summary["boxes"] = output.findings.boxes.tolist()
        if isinstance(output, DetectionOutput):
            summary["boxes"] = output.boxes.tolist()
        return summary

    class_names = result.class_names
    summary = {
        "slice_number": result.source.slice_index + 1,
        "slice_count": result.source.slice_count,
        "modality": result.source.modality,
        "rows": int(result.original.shape[0]),
        "columns": int(result.original.shape[1]),
        "original": prediction_summary(result.prediction_original),
        "legend": [
            {"value": index, "name": name, "colour": label_colour_hex(index)}
            for index, name in enumerate(class_names)
            if index > 0
        ]
        if isinstance(result.prediction_original, SegmentationOutput)
        else [],
        "saliency": [
            {
                "key": key,
                "title": explainer_get(key).title,
                "target": result.saliency[(key, "original")].target,
            }
            for key in result.request.explainer_keys
            if (key, "original") in result.saliency
        ],
        "sanity": {
            key: [[step.layer_name, step.spearman, step.ssim] for step in steps]
            for key, steps in result.sanity.items()
        },
    }
    if result.prediction_perturbed is not None:
        summary["perturbed"] = prediction_summary(result.prediction_perturbed)
    if result.request.box is not None:
        summary["prompt_box"] = [float(v) for v in result.request.box]
    return summary


def lab_run_pictures_render(result: LabResult) -> dict[str, bytes]:
    """The four composite pictures of the original page layout (kept as FileFields)."""
    files = lab_outputs_render(result)
    pictures = {
        "original_image": files["original-view.png"],
        "original_overlay": files["prediction-original-view.png"],
    }
    if "perturbed-view.png" in files:
        pictures["perturbed_image"] = files["perturbed-view.png"]
        pictures["perturbed_overlay"] = files["prediction-perturbed-view.png"]
    return pictures


def _lab_run_store(
    held: LabRun, *, result: LabResult, outputs: dict[str, bytes], stopped: bool = False
) -> None:
    """Keep the run's files and numbers (inside the engine's completing transaction, or
    the failing one of a run `stopped` for time, which keeps what finished)."""
    from django.core.files.storage import default_storage

    stored = {}
    for name, content in outputs.items():
        path = f"lab-runs/{held.pk}/{held.attempts}/{name}"
        if default_storage.exists(path):
            default_storage.delete(path)
        stored[name] = default_storage.save(path, ContentFile(content))
    legacy = {
        "original_image": "original-view.png",
        "original_overlay": "prediction-original-view.png",
        "perturbed_image": "perturbed-view.png",
        "perturbed_overlay": "prediction-perturbed-view.png",
    }
    for field_name, name in legacy.items():
        if name in stored:
            setattr(held, field_name, stored[name])
    held.outputs = stored
    held.summary = {**lab_result_summary(result), "partial": stopped}
    held.metrics = result.metrics
    held.save()


def lab_run_answers_save(*, run: LabRun, answers: dict[str, str]) -> LabRun:
    """Keep the resident's answers to the exercise's questions on the run (see
    runs.answers for what is kept)."""
    try:
        return run_answers_keep(run=run, answers=answers)
    except AnswersRefused as refusal:
        raise LabRunRefused(str(refusal)) from refusal


# --- Educators' own models ----------------------------------------------------------------


class ModelUploadRefused(Exception):
    """The upload cannot be stored; the message is written for the educator."""


def uploaded_model_create(*, user, title: str, upload, spec) -> UploadedModel:
    """Check the spec and the archive, store both, and queue validation on the batch queue.

    Refuses (ModelUploadRefused) oversize files, inconsistent specs, pickles and state dicts
    before anything is stored.
    """
    from zoo.sandbox import SandboxUnavailable, sandbox_required
    from zoo.uploaded import torchscript_archive_check

    try:
        sandbox_required()
    except SandboxUnavailable as unavailable:
        raise ModelUploadRefused(str(unavailable)) from None
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
    try:
        task_send("labs.tasks.uploaded_model_validate_task", kwargs={"model_pk": model_pk})
    except Exception:
        logger.exception("Could not enqueue validation of uploaded model %s.", model_pk)


def uploaded_model_validate(*, model_pk: int) -> UploadedModel:
    """Run the upload on its modality's sample study in the model sandbox.

    Idempotent: a model that already has a verdict is returned unchanged.
    """
    from studies.selectors import VALIDATION_SAMPLE_BY_MODALITY, study_series_load
    from zoo.sandbox import SandboxUnavailable
    from zoo.uploaded import UploadSpec, upload_validate

    model = UploadedModel.objects.get(pk=model_pk)
    if model.status != UploadedModelStatus.PENDING:
        return model
    spec = UploadSpec.from_json(model.spec)
    sample = study_series_load(study_key=VALIDATION_SAMPLE_BY_MODALITY[spec.modality]).pixels[0]
    try:
        verdict = upload_validate(archive=local_path(model.archive.name), spec=spec, sample=sample)
    except SandboxUnavailable as unavailable:
        # Never run the model outside the sandbox: the upload waits (PENDING) until an
        # administrator makes the sandbox work, and says why.
        model.validation_message = str(unavailable)
        model.save(update_fields=["validation_message"])
        return model
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
