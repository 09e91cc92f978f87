"""Writes for the de-identification lab: attempts, findings, runs on the worker, the demo.

An attempt moves FINDING -> CHOOSING (findings scored) -> QUEUED -> RUNNING -> SUCCEEDED /
FAILED / CANCELLED, and may be run again with other options from any final state. As for
lab runs (labs.services), the row is the record of work: the run is enqueued after the
transaction commits, a worker claims it under a row lock (attempts + 1) and writes only
while the row still carries its claim, and a sweeper re-queues what a lost message or a
dead worker left behind.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from deid_lab.computation import dataset_bytes, deid_run_compute, options_from_keys
from deid_lab.header_table import header_rows
from deid_lab.models import ACTIVE_STATUSES, DeidAttempt, DeidAttemptStatus, DeidExercise
from deid_lab.scoring import UnknownFinding, findings_score
from deid_lab.seeding import seeded_study_build

logger = logging.getLogger(__name__)

# The Modified Dates shift is drawn from this range of days (either direction), never 0.
DATE_OFFSET_RANGE_DAYS = (30, 730)


class DeidRefused(Exception):
    """The request cannot be carried out; the message is written for the resident."""


class DeidRunAbandoned(Exception):
    """The run was cancelled or handed to another worker while this one computed."""


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
        locked = DeidAttempt.objects.select_for_update().get(pk=attempt.pk)
        if not locked.may_choose_options:
            raise DeidRefused(
                _("Submit your findings first.")
                if locked.status == DeidAttemptStatus.FINDING
                else _("A run of this attempt is already waiting or running.")
            )
        locked.options = [o.key for o in attempt.exercise.options_offered if o.key in option_keys]
        locked.status = DeidAttemptStatus.QUEUED
        locked.attempts = 0
        locked.progress_percent, locked.progress_message = 0, ""
        locked.result, locked.error_message = {}, ""
        locked.queued_at, locked.started_at, locked.finished_at = timezone.now(), None, None
        locked.save()
        transaction.on_commit(lambda: deid_run_enqueue(attempt_pk=locked.pk))
    return locked


def deid_run_enqueue(*, attempt_pk: int) -> None:
    """Hand the run to the broker. A broker that is down loses nothing: the sweeper retries."""
    from deid_lab.tasks import deid_run_execute_task

    try:
        deid_run_execute_task.apply_async(kwargs={"attempt_pk": attempt_pk})
    except Exception:
        logger.exception(
            "Could not enqueue de-identification run %s; the sweeper will retry.", attempt_pk
        )


def deid_run_claim(*, attempt_pk: int) -> DeidAttempt | None:
    """Take the run for this worker, or None when there is nothing to do (see labs.services)."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.LAB_RUN_STALE_SECONDS)
    with transaction.atomic():
        attempt = (
            DeidAttempt.objects.select_for_update()
            .select_related("exercise")
            .filter(pk=attempt_pk)
            .first()
        )
        if attempt is None or attempt.status not in ACTIVE_STATUSES:
            return None
        if attempt.status == DeidAttemptStatus.RUNNING and attempt.heartbeat_at >= stale_before:
            return None
        if attempt.attempts >= settings.LAB_RUN_MAX_ATTEMPTS:
            _run_fail(
                attempt,
                _("The run stopped %(n)d times; it was not retried.") % {"n": attempt.attempts},
            )
            return None
        attempt.status = DeidAttemptStatus.RUNNING
        attempt.attempts += 1
        attempt.started_at = attempt.heartbeat_at = now
        attempt.progress_percent, attempt.progress_message = 1, _("Starting")
        attempt.save()
        return attempt


def deid_run_progress_report(*, attempt: DeidAttempt, percent: int, message: str) -> None:
    """Record progress and prove this worker still holds the run (raises DeidRunAbandoned)."""
    updated = DeidAttempt.objects.filter(
        pk=attempt.pk, status=DeidAttemptStatus.RUNNING, attempts=attempt.attempts
    ).update(progress_percent=percent, progress_message=message, heartbeat_at=timezone.now())
    if not updated:
        raise DeidRunAbandoned(attempt.pk)


def _run_fail(attempt: DeidAttempt, message: str) -> None:
    attempt.status = DeidAttemptStatus.FAILED
    attempt.error_message = message
    attempt.finished_at = timezone.now()
    attempt.save(update_fields=["status", "error_message", "finished_at"])


def deid_run_execute(*, attempt_pk: int) -> DeidAttempt | None:
    """Claim the run, compute it and store its outputs. Safe to call any number of times."""
    attempt = deid_run_claim(attempt_pk=attempt_pk)
    if attempt is None:
        return None
    try:
        result = deid_run_compute(
            variant=attempt.exercise.variant,
            options=options_from_keys(attempt.options, date_offset_days=attempt.date_offset_days),
            on_progress=lambda percent, message: deid_run_progress_report(
                attempt=attempt, percent=percent, message=message
            ),
        )
        deid_run_progress_report(attempt=attempt, percent=95, message=_("Saving the result"))
        outputs = {
            "original_image": ("original.png", result.original_png),
            "deidentified_image": ("deidentified.png", result.deidentified_png),
            "deidentified_file": ("deidentified.dcm", dataset_bytes(result.deidentified)),
        }
    except DeidRunAbandoned:
        logger.info("De-identification run %s was cancelled or taken over.", attempt.pk)
        return None
    except Exception:
        logger.exception("De-identification run %s failed", attempt.pk)
        # Only while this attempt still holds the run: saving the in-memory row here would
        # overwrite a cancel, or a newer attempt's result, that arrived while it computed.
        DeidAttempt.objects.filter(
            pk=attempt.pk, status=DeidAttemptStatus.RUNNING, attempts=attempt.attempts
        ).update(
            status=DeidAttemptStatus.FAILED,
            error_message=_("The run failed on the worker. The error has been logged."),
            finished_at=timezone.now(),
        )
        return DeidAttempt.objects.get(pk=attempt.pk)
    with transaction.atomic():
        locked = DeidAttempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.status != DeidAttemptStatus.RUNNING or locked.attempts != attempt.attempts:
            return None
        for field_name, (filename, content) in outputs.items():
            getattr(locked, field_name).save(filename, ContentFile(content), save=False)
        locked.result = result.to_json()
        locked.status = DeidAttemptStatus.SUCCEEDED
        locked.progress_percent, locked.progress_message = 100, _("Done")
        locked.finished_at = timezone.now()
        locked.save()
        return locked


def deid_run_cancel(*, attempt: DeidAttempt) -> bool:
    """Cancel a waiting or running run; the worker notices at its next progress report."""
    return bool(
        DeidAttempt.objects.filter(pk=attempt.pk, status__in=ACTIVE_STATUSES).update(
            status=DeidAttemptStatus.CANCELLED,
            finished_at=timezone.now(),
            progress_message=_("Cancelled"),
        )
    )


def deid_runs_requeue_stale(*, now=None) -> list[int]:
    """Find runs whose message or worker was lost and enqueue them again (idempotent)."""
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.LAB_RUN_STALE_SECONDS)
    stale = DeidAttempt.objects.filter(
        status=DeidAttemptStatus.QUEUED, queued_at__lt=stale_before
    ) | DeidAttempt.objects.filter(status=DeidAttemptStatus.RUNNING, heartbeat_at__lt=stale_before)
    requeued = []
    for attempt_pk in stale.values_list("pk", flat=True):
        DeidAttempt.objects.filter(pk=attempt_pk, status=DeidAttemptStatus.QUEUED).update(
            queued_at=now
        )
        deid_run_enqueue(attempt_pk=attempt_pk)
        requeued.append(attempt_pk)
    if requeued:
        logger.warning("Re-enqueued stale de-identification runs: %s", requeued)
    return requeued


# --- Demo content ---------------------------------------------------------------------------

DEMO_EXERCISE_TITLE = "Find the leaks: a CT slice with a name in its pixels"
DEMO_LESSON_SLUG = "deidentification-lab"
DEMO_MODULE_SLUGS = ("data-protection-gdpr-deidentification", "where-ai-fails")
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


def deid_demo_lesson_ensure(*, course):
    """A lesson embedding the demo exercise in the course's data-protection module.

    Made once (by slug) and left alone afterwards, so an educator's edits survive; the
    content loader never touches it because no content file names it. Returns None when the
    course has none of the modules it can go in.
    """
    from curriculum.models import LessonPage, ModulePage

    modules = {page.slug: page for page in ModulePage.objects.child_of(course)}
    module = next((modules[s] for s in DEMO_MODULE_SLUGS if s in modules), None)
    if module is None:
        return None
    existing = LessonPage.objects.child_of(module).filter(slug=DEMO_LESSON_SLUG).first()
    if existing is not None:
        return existing
    exercise = deid_demo_exercise_ensure()
    lesson = LessonPage(
        slug=DEMO_LESSON_SLUG,
        title="De-identification lab: find what leaks",
        summary="Find the PHI in a CT header and its pixels, choose PS3.15 options, verify.",
        estimated_minutes=20,
        body=[
            {
                "type": "paragraph",
                "value": "<p>Headers, private tags, sequence items and burned-in text: "
                "identity hides in all of them. This lab plants it everywhere in a real CT "
                "slice and checks your de-identification afterwards.</p>",
            },
            {"type": "deid", "value": {"exercise": exercise.pk, "introduction": ""}},
        ],
    )
    module.add_child(instance=lesson)
    lesson.save_revision().publish()
    return lesson
