"""Writes for the de-identification lab: attempts, findings, runs on the worker, the demo.

An attempt moves FINDING -> CHOOSING (findings scored) -> QUEUED -> RUNNING -> SUCCEEDED /
FAILED / CANCELLED, and may be run again with other options from any final state. From
QUEUED on it is a durable run of the engine (runs.services): enqueued once committed,
claimed by one conditional UPDATE, written only while its attempt holds the run, swept
when lost. This module keeps what is the lab's own: findings, options, the compute step.
"""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from deid_lab.computation import dataset_bytes, deid_run_compute, options_from_keys
from deid_lab.header_table import header_rows
from deid_lab.models import DeidAttempt, DeidAttemptStatus, DeidExercise
from deid_lab.scoring import UnknownFinding, findings_score
from deid_lab.seeding import seeded_study_build
from runs.models import ACTIVE_STATUSES, FINAL_STATUSES
from runs.services import run_execute, run_offer_again

logger = logging.getLogger(__name__)

# The Modified Dates shift is drawn from this range of days (either direction), never 0.
DATE_OFFSET_RANGE_DAYS = (30, 730)


class DeidRefused(Exception):
    """The request cannot be carried out; the message is written for the resident."""


def deid_attempt_create(*, user, exercise: DeidExercise, lesson=None) -> DeidAttempt:
    if not exercise.is_published:
        raise DeidRefused(_("This exercise is not open."))
    low, high = DATE_OFFSET_RANGE_DAYS
    offset = low + secrets.randbelow(high - low + 1)
    return DeidAttempt.objects.create(
        exercise=exercise,
        user=user,
        lesson=lesson,
        date_offset_days=offset if secrets.randbelow(2) else -offset,
    )


def deid_findings_submit(*, attempt: DeidAttempt, paths: list[str]) -> DeidAttempt:
    """Score the ticked element paths against the planted PHI (once per attempt)."""
    if attempt.status != DeidAttemptStatus.FINDING:
        raise DeidRefused(_("Your findings for this attempt were already scored."))
    rows = header_rows(seeded_study_build(variant=attempt.exercise.variant).dataset)
    ticked = set(paths)
    try:
        score = findings_score(ticked=ticked, rows=rows, variant=attempt.exercise.variant)
    except UnknownFinding as error:
        raise DeidRefused(
            _("These are not attributes of this study: %(paths)s.") % {"paths": error}
        ) from None
    updated = DeidAttempt.objects.filter(pk=attempt.pk, status=DeidAttemptStatus.FINDING).update(
        findings=sorted(ticked), finding_score=score.to_json(), status=DeidAttemptStatus.CHOOSING
    )
    if not updated:
        raise DeidRefused(_("Your findings for this attempt were already scored."))
    attempt.refresh_from_db()
    return attempt


def deid_run_request(*, attempt: DeidAttempt, option_keys: list[str]) -> DeidAttempt:
    """Validate the chosen options, store them and queue the run on the worker."""
    offered = {option.key for option in attempt.exercise.options_offered}
    unknown = sorted(set(option_keys) - offered)
    if unknown:
        raise DeidRefused(
            _("This exercise does not offer: %(keys)s.") % {"keys": ", ".join(unknown)}
        )
    if {"retain_full_dates", "retain_modified_dates"} <= set(option_keys):
        raise DeidRefused(
            _("Choose full dates or modified dates, not both: PS3.15 offers them as alternatives.")
        )
    with transaction.atomic():
        # Lock the user's row so two simultaneous requests cannot both pass the limit.
        get_user_model().objects.select_for_update().filter(pk=attempt.user_id).first()
        active = DeidAttempt.objects.filter(user_id=attempt.user_id, status__in=ACTIVE_STATUSES)
        if active.exclude(pk=attempt.pk).count() >= settings.LAB_RUN_MAX_ACTIVE_PER_USER:
            raise DeidRefused(
                _("You already have %(count)d runs waiting or running. Wait for one to finish.")
                % {"count": active.count()}
            )
        queued = run_offer_again(
            run=attempt,
            from_statuses=(DeidAttemptStatus.CHOOSING, *FINAL_STATUSES),
            options=[o.key for o in attempt.exercise.options_offered if o.key in option_keys],
            result={},
        )
        if not queued:
            attempt.refresh_from_db(fields=["status"])
            raise DeidRefused(
                _("Submit your findings first.")
                if attempt.status == DeidAttemptStatus.FINDING
                else _("A run of this attempt is already waiting or running.")
            )
    attempt.refresh_from_db()
    return attempt


def deid_run_execute(*, attempt_pk: int) -> DeidAttempt | None:
    """Run one attempt's run through the engine, in this process (tests, the old task name)."""
    return run_execute(model_label="deid_lab.DeidAttempt", run_pk=attempt_pk)


def deid_attempt_compute(attempt: DeidAttempt, progress):
    """The engine's compute step: de-identify the seeded study with the chosen options and
    verify it; the returned step stores the pictures, the file and the verdict."""
    result = deid_run_compute(
        variant=attempt.exercise.variant,
        options=options_from_keys(attempt.options, date_offset_days=attempt.date_offset_days),
        on_progress=progress,
    )
    progress(95, _("Saving the result"))
    outputs = {
        "original_image": ("original.png", result.original_png),
        "deidentified_image": ("deidentified.png", result.deidentified_png),
        "deidentified_file": ("deidentified.dcm", dataset_bytes(result.deidentified)),
    }

    def store(held: DeidAttempt) -> None:
        for field_name, (filename, content) in outputs.items():
            getattr(held, field_name).save(filename, ContentFile(content), save=False)
        held.result = result.to_json()
        held.save(update_fields=[*outputs, "result"])

    return store


# --- Demo content ---------------------------------------------------------------------------

DEMO_EXERCISE_TITLE = "Find the leaks: a CT slice with a name in its pixels"
DEMO_INSTRUCTIONS = (
    "<p>This CT slice left the hospital with its identity still inside. First tick every "
    "attribute (and the image) you think identifies the patient or the hospital; then "
    "choose the PS3.15 options for a research export that must keep the scan intervals "
    "but nothing else; run it and see what the verifier still finds.</p>"
)


def deid_demo_exercise_ensure() -> DeidExercise:
    """The demo exercise (the trap variant, every option offered); never overwritten."""
    exercise, _created = DeidExercise.objects.get_or_create(
        title=DEMO_EXERCISE_TITLE,
        defaults={"instructions": DEMO_INSTRUCTIONS, "variant": "undeclared"},
    )
    return exercise
