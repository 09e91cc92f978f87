"""Released results, heard through the model signals the assessments and grading apps
already send (post_save of Attempt, Assessment and ResponseMarking): no app below imports
this one. Each queues the scores to send (lti.services), inside the event's transaction;
what is not released yet is not queued (attempt_marks decides)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save

from assessments.models import Assessment, Attempt
from grading.models import ResponseMarking
from lti import services

logger = logging.getLogger(__name__)


def _quietly(queue, **kwargs) -> None:
    """A score that cannot be queued must not undo the resident's submit or the release."""
    try:
        with transaction.atomic():
            queue(**kwargs)
    except Exception:
        logger.exception("LTI score not queued")


def attempt_saved(sender, instance: Attempt, created: bool, update_fields=None, **kwargs) -> None:
    """A quiz submitted (released at once), or an exam attempt finished after release."""
    if created or not instance.is_finished:
        return
    if update_fields is not None and "status" not in update_fields:
        return
    _quietly(services.attempt_scores_queue, attempt=instance)


def assessment_saved(sender, instance: Assessment, created: bool, **kwargs) -> None:
    """An exam's results released: its finished attempts are scored."""
    if created or instance.results_released_at is None:
        return
    _quietly(services.assessment_scores_queue, assessment=instance)


def marking_saved(sender, instance: ResponseMarking, created: bool, **kwargs) -> None:
    """An examiner's mark released after the exam's release: the attempt's score changed."""
    if instance.released_at is None:
        return
    _quietly(services.attempt_scores_queue, attempt=instance.response.attempt)


def connect() -> None:
    post_save.connect(attempt_saved, sender=Attempt, dispatch_uid="lti-attempt")
    post_save.connect(assessment_saved, sender=Assessment, dispatch_uid="lti-assessment")
    post_save.connect(marking_saved, sender=ResponseMarking, dispatch_uid="lti-marking")
