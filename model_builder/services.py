"""Writes for the model builder: cohorts and labels, and the compute and store steps of a
training run.

A TrainingRun is a durable run (runs app): the engine claims, heartbeats, cancels, sweeps
and finishes it. What is the model builder's own is that training is long: the worker runs
it in a child process (`model_builder.trainer`) with a memory limit and a hard time limit,
relays its progress at least every second, and the child checkpoints every epoch, so an
attempt that takes over a dead worker's run goes on from the last finished epoch instead of
starting again.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts import permissions
from model_builder.evaluation import classification_measures, json_safe
from model_builder.models import (
    EXERCISE_SPLITS,
    BuilderExercise,
    LabelledCohort,
    StudyLabel,
    TrainingRun,
    TrainingRunStatus,
)
from model_builder.own_studies import (
    LabelFileRefused,
    LabelRowProblem,
    label_csv_parse,
    study_images_load,
)
from model_builder.splits import SPLITS, patients_on_both_sides, split_make
from model_builder.trainer import AUGMENTATIONS, LEARNING_RATES
from runs.answers import AnswersRefused, run_answers_keep
from runs.files import publish, scratch_dir, storage_is_local
from runs.models import ACTIVE_STATUSES
from runs.services import RunFailed, run_enqueue_on_commit, run_execute

logger = logging.getLogger(__name__)

MODEL_SIZES = ("small", "medium")
LESION_COHORT = "lesions"
OWN_COHORT = "own"
# The default configuration: what bench/training.py measures and the form starts from.
DEFAULT_CONFIG = {
    "cohort": LESION_COHORT,
    "labelled_cohort_pk": None,
    "lesion_patients": 800,
    "views": 3,
    "split": "patient",
    "test_fraction": 0.25,
    "augmentations": list(AUGMENTATIONS),
    "model_size": "small",
    "epochs": 12,
    "learning_rate": "standard",
}
LESION_PATIENTS_MIN = 20
NEW_PATIENTS_SEED_OFFSET = 1_000_003


class TrainingRefused(Exception):
    """The request cannot become a training run; the message is written for the resident."""


# --- Labelled cohorts -----------------------------------------------------------------------


def labelled_cohort_create(*, user, title: str) -> LabelledCohort:
    title = title.strip()
    if not title:
        raise TrainingRefused("Give the cohort a name.")
    return LabelledCohort.objects.create(owner=user, title=title[:120])


def _visible_studies_by_uid_and_key(user) -> dict:
    from studies.models import Study

    found = {}
    for study in Study.objects.filter(permissions.visible_q(user, "studies.studies")):
        found[study.study_instance_uid] = study
        if study.key:
            found[study.key] = study
    return found


def cohort_labels_import_csv(
    *, cohort: LabelledCohort, user, content: bytes
) -> tuple[int, list[LabelRowProblem]]:
    """Store every label of the file, or none when any row is wrong (all rows reported).

    Raises LabelFileRefused when the file as a whole is unusable. Labels in the file
    replace earlier labels of the same studies; other studies keep theirs.
    """
    pairs, problems = label_csv_parse(
        content=content, visible_studies=_visible_studies_by_uid_and_key(user)
    )
    if problems:
        return 0, problems
    if not pairs:
        raise LabelFileRefused("The label file has a header but no rows.")
    with transaction.atomic():
        for study, label, patient_key in pairs:
            StudyLabel.objects.update_or_create(
                cohort=cohort, study=study, defaults={"label": label, "patient_key": patient_key}
            )
    return len(pairs), []


def cohort_label_set(*, cohort: LabelledCohort, user, study, label: int | None) -> None:
    """Label one study (None removes it from the cohort). The study must be visible."""
    if not permissions.may(user, "studies.view_study", study):
        raise TrainingRefused("No such study.")
    if label is None:
        StudyLabel.objects.filter(cohort=cohort, study=study).delete()
    else:
        StudyLabel.objects.update_or_create(cohort=cohort, study=study, defaults={"label": label})


# --- Creating a run -------------------------------------------------------------------------


def _choice(raw: dict, name: str, allowed, label: str) -> str:
    value = str(raw.get(name, DEFAULT_CONFIG[name]))
    if value not in allowed:
        raise TrainingRefused(f"{label} must be one of: {', '.join(allowed)}.")
    return value


def _bounded_int(raw: dict, name: str, low: int, high: int, label: str) -> int:
    try:
        value = int(raw.get(name, DEFAULT_CONFIG[name]))
    except (TypeError, ValueError):
        raise TrainingRefused(f"{label} must be a whole number.") from None
    if not low <= value <= high:
        raise TrainingRefused(f"{label} must lie between {low} and {high}.")
    return value


def training_config_validate(*, user, raw: dict) -> dict:
    """A complete, checked configuration from what the resident chose (defaults fill gaps)."""
    config = {
        "split": _choice(raw, "split", SPLITS, "The split"),
        "model_size": _choice(raw, "model_size", MODEL_SIZES, "The model size"),
        "learning_rate": _choice(raw, "learning_rate", tuple(LEARNING_RATES), "The learning rate"),
        "epochs": _bounded_int(raw, "epochs", 1, settings.MODEL_BUILDER_MAX_EPOCHS, "Epochs"),
        "test_fraction": DEFAULT_CONFIG["test_fraction"],
        "views": DEFAULT_CONFIG["views"],
        "seed": int(raw.get("seed", secrets.randbelow(2**31))),
    }
    augmentations = raw.get("augmentations", DEFAULT_CONFIG["augmentations"])
    unknown = [name for name in augmentations if name not in AUGMENTATIONS]
    if unknown:
        raise TrainingRefused(f"Unknown augmentation: {', '.join(map(str, unknown))}.")
    config["augmentations"] = [name for name in AUGMENTATIONS if name in augmentations]
    cohort = str(raw.get("cohort", LESION_COHORT))
    if cohort == LESION_COHORT:
        config.update(
            cohort=LESION_COHORT,
            labelled_cohort_pk=None,
            lesion_patients=_bounded_int(
                raw,
                "lesion_patients",
                LESION_PATIENTS_MIN,
                settings.MODEL_BUILDER_LESION_PATIENTS_MAX,
                "The number of patients",
            ),
        )
        return config
    if not cohort.startswith("cohort-") or not cohort.removeprefix("cohort-").isdigit():
        raise TrainingRefused("Choose the lesion cohort or one of your labelled cohorts.")
    own = LabelledCohort.objects.filter(pk=int(cohort.removeprefix("cohort-")), owner=user).first()
    if own is None:
        raise TrainingRefused("Choose the lesion cohort or one of your labelled cohorts.")
    labels = list(own.labels.select_related("study"))
    visible = [row for row in labels if permissions.may(user, "studies.view_study", row.study)]
    for value, name in ((1, "positive"), (0, "negative")):
        patients = {study_label_patient(row) for row in visible if row.label == value}
        if len(patients) < 2:
            raise TrainingRefused(
                f"The cohort '{own.title}' needs at least two patients with {name} studies "
                f"(it has {len(patients)}), so both the training and the test set hold some."
            )
    config.update(cohort=OWN_COHORT, labelled_cohort_pk=own.pk, lesion_patients=None)
    return config


def training_run_create(
    *, user, title: str, raw_config: dict, exercise: BuilderExercise | None = None, lesson=None
) -> TrainingRun:
    """Validate, store a QUEUED run and enqueue it once committed; one active run per user.

    `exercise` and `lesson`: the leakage exercise the run was started from (see
    training_run_start_for_exercise), which its completion and questions follow."""
    title = (title or "").strip()[:120] or "My model"
    config = training_config_validate(user=user, raw=raw_config)
    with transaction.atomic():
        # Lock the user's row so two simultaneous submissions cannot both pass the limit.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        active = TrainingRun.objects.filter(user=user, status__in=ACTIVE_STATUSES).first()
        if active is not None and settings.MODEL_BUILDER_MAX_ACTIVE_PER_USER <= 1:
            raise TrainingRefused(
                f"You already have a training in progress ('{active.title}'). One training "
                "at a time per person: wait for it to finish or cancel it, then try again."
            )
        if (
            TrainingRun.objects.filter(user=user, status__in=ACTIVE_STATUSES).count()
            >= settings.MODEL_BUILDER_MAX_ACTIVE_PER_USER
        ):
            raise TrainingRefused("You have as many trainings in progress as allowed.")
        run = TrainingRun.objects.create(
            user=user,
            title=title,
            config=config,
            exercise=exercise,
            lesson=lesson,
            queued_at=timezone.now(),
        )
        run.work_dir = f"training-runs/{run.pk}"
        run.save(update_fields=["work_dir"])
        run_enqueue_on_commit(run=run)
    return run


def exercise_seed(*, user, exercise: BuilderExercise) -> int:
    """One seed per resident and exercise: both of their trainings draw the same patients,
    views and initial weights, so the split is the only thing that differs."""
    return (exercise.pk * 1_000_003 + user.pk * 7_919) % 2**31


def training_run_start_for_exercise(
    *, user, exercise: BuilderExercise, lesson, split: str
) -> TrainingRun:
    """Train the lesion cohort for a lesson's leakage exercise with one of the two splits;
    the exercise fixes everything else. Callers check "model_builder.start_exercise"."""
    if not exercise.is_published:
        raise TrainingRefused("This exercise is not open.")
    if split not in EXERCISE_SPLITS:
        raise TrainingRefused(f"The split must be one of: {', '.join(EXERCISE_SPLITS)}.")
    label = {"patient": "split by patient", "image": "split by image"}[split]
    return training_run_create(
        user=user,
        title=f"Leakage exercise: {label}",
        raw_config={
            **DEFAULT_CONFIG,
            "cohort": LESION_COHORT,
            "lesion_patients": exercise.lesion_patients,
            "epochs": exercise.epochs,
            "split": split,
            "seed": exercise_seed(user=user, exercise=exercise),
        },
        exercise=exercise,
        lesson=lesson,
    )


def training_run_answers_save(*, run: TrainingRun, answers: dict[str, str]) -> TrainingRun:
    """Keep the resident's answers to the exercise's questions on this run (runs.answers).
    The questions compare the two trainings: callers check "model_builder.answer_run",
    which asks that both are in."""
    if run.exercise is None or run.status != TrainingRunStatus.SUCCEEDED:
        raise TrainingRefused(
            "The questions are about your two trainings: answer once both are in."
        )
    try:
        return run_answers_keep(run=run, answers=answers)
    except AnswersRefused as refusal:
        raise TrainingRefused(str(refusal)) from refusal


# --- Running ------------------------------------------------------------------------------


def _checkpoint_fetch(*, run: TrainingRun, work_dir: Path) -> None:
    """Bring the stored checkpoint into this worker's folder, where the object store holds
    it (another host's attempt may have written it). On one machine's MEDIA_ROOT the
    folder is the stored one already."""
    if storage_is_local() or not run.checkpoint_path:
        return
    try:
        stored = default_storage.open(run.checkpoint_path, "rb")
    except FileNotFoundError:
        return
    staged = work_dir / "checkpoint.fetch"
    with stored, staged.open("wb") as out:
        shutil.copyfileobj(stored, out, length=1024 * 1024)
    # The stored one wins over a local one: it is at least as far on (published each epoch).
    os.replace(staged, work_dir / "checkpoint.pt")


def _checkpoint_publish(*, run: TrainingRun, work_dir: Path) -> None:
    """Keep the checkpoint of the epoch just finished where any worker can resume from it."""
    checkpoint = work_dir / "checkpoint.pt"
    if run.checkpoint_path and checkpoint.is_file():
        publish(checkpoint, run.checkpoint_path)


def training_dataset_prepare(*, run: TrainingRun, work_dir: Path) -> dict:
    """Write `dataset.npz` (images, labels, split) once; a later attempt reuses it.

    Returns facts about the split for the results page.
    """
    from model_builder.lesion_patients import lesion_patients_build

    config = run.config
    dataset_path = work_dir / "dataset.npz"
    if not dataset_path.exists():
        extra = {}
        if config["cohort"] == LESION_COHORT:
            cohort = lesion_patients_build(
                patients=config["lesion_patients"], views=config["views"], seed=config["seed"]
            )
            images, labels, patient_ids, modality = (
                cohort.images,
                cohort.labels,
                cohort.patient_ids,
                cohort.modality,
            )
            # Patients the model never saw, from axial levels training never used: the
            # honest yardstick the leakage lesson compares an image-level score with.
            fresh = lesion_patients_build(
                patients=max(LESION_PATIENTS_MIN, config["lesion_patients"] // 4),
                views=config["views"],
                seed=config["seed"] + NEW_PATIENTS_SEED_OFFSET,
                held_out_levels=True,
                id_prefix="N",
            )
            extra = {"new_images": fresh.images, "new_labels": fresh.labels}
        else:
            images, labels, patient_ids, modality = _own_cohort_images(run=run)
        is_train = split_make(
            kind=config["split"],
            patient_ids=patient_ids,
            labels=labels,
            test_fraction=config["test_fraction"],
            seed=config["seed"],
        )
        staged = work_dir / "dataset.partial.npz"
        np.savez(
            staged,
            images=images,
            labels=labels,
            patient_ids=patient_ids,
            is_train=is_train,
            modality=modality,
            **extra,
        )
        os.replace(staged, dataset_path)
    data = np.load(dataset_path)
    is_train, patient_ids = data["is_train"], data["patient_ids"]
    return {
        "kind": config["split"],
        "train_images": int(is_train.sum()),
        "test_images": int((~is_train).sum()),
        "train_patients": len(set(patient_ids[is_train].tolist())),
        "test_patients": len(set(patient_ids[~is_train].tolist())),
        "patients_on_both_sides": len(
            patients_on_both_sides(patient_ids=patient_ids, is_train=is_train)
        ),
        "modality": str(data["modality"]),
    }


def study_label_patient(row: StudyLabel) -> str:
    """Who a labelled study belongs to, for the patient-level split: the resident's patient
    key, else the study's PatientID, else the study itself (de-identified uploads have an
    empty PatientID, so each study counts as its own patient unless the resident links
    them)."""
    return row.patient_key or row.study.patient_id or row.study.study_instance_uid


def _own_cohort_images(*, run: TrainingRun):
    from studies.models import Study

    cohort = LabelledCohort.objects.get(pk=run.config["labelled_cohort_pk"])
    images, labels, patient_ids, modalities = [], [], [], set()
    rows = cohort.labels.select_related("study").order_by("pk")
    for row in rows:
        study: Study = row.study
        if not permissions.may(run.user, "studies.view_study", study):
            continue
        try:
            stack, modality = study_images_load(
                study=study, max_images=settings.MODEL_BUILDER_SLICES_PER_STUDY
            )
        except (ValueError, OSError) as error:
            raise TrainingRefused(f"Study {study} cannot be used for training: {error}") from None
        modalities.add(modality)
        images.append(stack)
        labels.extend([row.label] * len(stack))
        patient_ids.extend([study_label_patient(row)] * len(stack))
    if len(modalities) != 1:
        raise TrainingRefused(
            "A cohort must hold one modality; this one has " + ", ".join(sorted(modalities))
        )
    return (
        np.concatenate(images),
        np.array(labels, dtype=np.int64),
        np.array(patient_ids),
        modalities.pop(),
    )


def _child_limits() -> None:
    # Between fork and exec in the training child: cap its heap so a large configuration
    # cannot take the worker's memory, and die with the worker (PR_SET_PDEATHSIG) so a
    # killed worker never leaves an orphan writing to the run's checkpoint.
    import ctypes

    limit = settings.MODEL_BUILDER_MEMORY_BYTES
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def _child_limits_without_memory() -> None:
    # CUDA reserves large private mappings that RLIMIT_DATA would refuse.
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def _trainer_start(*, run: TrainingRun, work_dir: Path, soft_seconds: float):
    import torch

    config = run.config
    (work_dir / "config.json").write_text(
        json.dumps(
            {
                "model_size": config["model_size"],
                "epochs": config["epochs"],
                "learning_rate": config["learning_rate"],
                "augmentations": config["augmentations"],
                "batch_size": settings.MODEL_BUILDER_BATCH_SIZE,
                "seed": config["seed"],
                "soft_seconds": soft_seconds,
                "epoch_pause_seconds": settings.MODEL_BUILDER_EPOCH_PAUSE_SECONDS,
            }
        )
    )
    env = {**os.environ, "MODEL_BUILDER_TORCH_THREADS": str(settings.MODEL_BUILDER_TORCH_THREADS)}
    log = (work_dir / "trainer.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "model_builder.trainer", str(work_dir)],
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
        cwd=settings.BASE_DIR,
        preexec_fn=_child_limits_without_memory if torch.cuda.is_available() else _child_limits,
    )


def _history_merge(*, run: TrainingRun, rows: list[dict]) -> list[dict]:
    """The row's history with `rows` replacing any entries for the same epochs."""
    epochs = {row["epoch"] for row in rows}
    kept = [row for row in run.history if row["epoch"] not in epochs]
    return sorted(kept + rows, key=lambda row: row["epoch"])


def _percent(*, epoch: int, fraction: float, epochs: int) -> int:
    return int(5 + 85 * min(1.0, (epoch - 1 + fraction) / max(epochs, 1)))


def training_run_execute(*, run_pk: int) -> TrainingRun | None:
    """Run one training through the engine, in this process (tests, the old task name)."""
    return run_execute(model_label="model_builder.TrainingRun", run_pk=run_pk)


def training_run_compute(run: TrainingRun, progress):
    """The engine's compute step: train (or go on training from the checkpoint)."""
    work_dir = scratch_dir(run.work_dir)
    run.checkpoint_path = f"{run.work_dir}/checkpoint.pt"
    _checkpoint_fetch(run=run, work_dir=work_dir)
    try:
        progress(2, "Preparing the images")
        split = training_dataset_prepare(run=run, work_dir=work_dir)
        progress(5, "Training", checkpoint_path=run.checkpoint_path)
        done = _train_supervised(run=run, work_dir=work_dir, progress=progress)
    except TrainingRefused as refusal:
        raise RunFailed(str(refusal)) from None
    progress(92, "Evaluating on the held-out split")
    metrics, spec = _training_evaluate(run=run, work_dir=work_dir, split=split, done=done)
    return partial(_training_run_store, work_dir=work_dir, metrics=metrics, spec=spec)


def _train_supervised(*, run: TrainingRun, work_dir: Path, progress) -> dict:
    """Run the trainer child, relaying its events to the row (RunFailed when it failed).

    Progress is reported every second whatever the child is doing; a cancelled or
    taken-over run kills the child at once (RunAbandoned propagates).
    """
    epochs = run.config["epochs"]
    child = _trainer_start(
        run=run, work_dir=work_dir, soft_seconds=settings.MODEL_BUILDER_SOFT_SECONDS
    )
    hard_deadline = time.monotonic() + settings.MODEL_BUILDER_HARD_SECONDS
    done = None
    percent, message = 5, "Training"
    pending = b""
    finished = False
    try:
        while not finished:
            lines = []
            # Raw reads, not readline(): a buffered reader could hold lines that select()
            # no longer reports, delaying progress until the next output.
            ready, _, _ = select.select([child.stdout], [], [], 1.0)
            if ready:
                chunk = os.read(child.stdout.fileno(), 65536)
                finished = not chunk
                pending += chunk
                *lines, pending = pending.split(b"\n")
            for line in lines:
                event = json.loads(line)
                kind = event.pop("event")
                if kind == "batch":
                    fraction = event["fraction"]
                    percent = _percent(epoch=event["epoch"], fraction=fraction, epochs=epochs)
                    message = f"Epoch {event['epoch']} of {epochs}"
                elif kind == "resumed":
                    # Epochs the checkpoint holds but the row missed (the worker died between
                    # saving the checkpoint and writing the row) were the previous attempt's.
                    known = {row["epoch"] for row in run.history}
                    missed = [
                        json_safe({**row, "attempt": run.attempts - 1})
                        for row in event["history"]
                        if row["epoch"] not in known
                    ]
                    run.history = _history_merge(run=run, rows=missed)
                    message = f"Resumed from the checkpoint of epoch {event['epoch']}"
                    logger.warning("Training run %s resumed after epoch %s", run.pk, event["epoch"])
                    progress(None, message, history=run.history)
                elif kind == "epoch":
                    _checkpoint_publish(run=run, work_dir=work_dir)
                    row = json_safe({**event, "attempt": run.attempts})
                    run.history = _history_merge(run=run, rows=[row])
                    percent = _percent(epoch=event["epoch"], fraction=1.0, epochs=epochs)
                    message = f"Epoch {event['epoch']} of {epochs} done"
                    progress(percent, message, history=run.history)
                elif kind == "done":
                    done = event
            if time.monotonic() > hard_deadline:
                child.kill()
                child.wait()
                raise RunFailed(
                    f"The training passed the hard time limit of "
                    f"{settings.MODEL_BUILDER_HARD_SECONDS:g} s and was stopped."
                )
            progress(percent, message)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
    if child.returncode == 0 and done is not None:
        return done
    raise RunFailed(_trainer_failure_message(returncode=child.returncode, work_dir=work_dir))


def _trainer_failure_message(*, returncode: int, work_dir: Path) -> str:
    log_tail = (work_dir / "trainer.log").read_text(errors="replace")[-2000:].lower()
    gib = settings.MODEL_BUILDER_MEMORY_BYTES / 1024**3
    if "memory" in log_tail or "allocate" in log_tail or returncode == -signal.SIGKILL:
        return (
            f"The training ran out of its memory allowance ({gib:.1f} GB). Choose the small "
            "model or fewer patients."
        )
    logger.error("Trainer exited with %s: %s", returncode, log_tail[-500:])
    return "The training process failed on the worker. The error has been logged."


def _training_evaluate(*, run: TrainingRun, work_dir: Path, split: dict, done: dict):
    """The held-out measures and the model's spec, from the trainer's files."""
    data = np.load(work_dir / "dataset.npz")
    predictions = np.load(work_dir / "predictions.npz")
    is_train = data["is_train"]
    metrics = {
        "test": classification_measures(
            scores=predictions["test_scores"], labels=data["labels"][~is_train]
        ),
        "split": split,
        "epochs_completed": done["epochs"],
        "stopped_at_time_limit": done["stopped_early"],
        "training_seconds": done["seconds"],
        "trainer_peak_rss_mb": done.get("peak_rss_mb"),
        "trainer_cpu_seconds": done.get("cpu_seconds"),
    }
    if "new_scores" in predictions.files:
        metrics["new_patients"] = classification_measures(
            scores=predictions["new_scores"], labels=data["new_labels"]
        )
        metrics["new_patients"]["patients"] = int(len(data["new_labels"]) // run.config["views"])
    lesion = run.config["cohort"] == LESION_COHORT
    spec = {
        "modality": split["modality"],
        "pixel_spacing_mm": 1.4 if lesion else None,
        "input_size": None if lesion else 64,
        "class_names": ["no lesion", "lesion"] if lesion else ["negative", "positive"],
    }
    return json_safe(metrics), spec


def _training_run_store(held: TrainingRun, *, work_dir: Path, metrics: dict, spec: dict) -> None:
    """Keep the model and its measures (inside the engine's completing transaction)."""
    from zoo.weights_files import file_sha256

    with (work_dir / "model.pt").open("rb") as archive:
        held.model_archive.save("model.pt", File(archive), save=False)
    held.model_sha256 = file_sha256(work_dir / "model.pt")  # the bytes just stored
    held.model_spec = spec
    held.metrics = metrics
    held.save()
    # The images are rebuilt from the configuration if ever needed; the checkpoint stays.
    transaction.on_commit(lambda: (work_dir / "dataset.npz").unlink(missing_ok=True))


def training_run_files_remove(*, run: TrainingRun) -> None:
    if run.work_dir:
        shutil.rmtree(scratch_dir(run.work_dir), ignore_errors=True)
    if (
        run.checkpoint_path
        and not storage_is_local()
        and default_storage.exists(run.checkpoint_path)
    ):
        default_storage.delete(run.checkpoint_path)
