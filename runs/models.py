"""The durable run: the abstract row every lab family's work is recorded in.

The row, not the broker message, is the record of work. Its life:

    QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED

A worker claims a QUEUED row (attempts + 1). A RUNNING row whose heartbeat went stale (its
worker died) is claimed again, until the family's max attempts, then fails. QUEUED and
RUNNING rows may be cancelled. Final rows never change state again. Concrete models keep
their own table and columns; the field and index names here are the ones every family
already had, so adopting this base renames nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from runs.answers import line_question_prompts

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Finished")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
FINAL_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)

# The state machine, written down once (docs/architecture.md shows it as a table).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    RunStatus.QUEUED: (RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.FAILED),
    RunStatus.RUNNING: (
        RunStatus.RUNNING,  # re-claimed after a stale heartbeat, attempts + 1
        RunStatus.SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
    ),
    RunStatus.SUCCEEDED: (),
    RunStatus.FAILED: (),
    RunStatus.CANCELLED: (),
}


@dataclass(frozen=True)
class RunPolicy:
    """What a family decides about its runs; the engine does the rest.

    `compute` is the dotted path of `compute(run, progress) -> store`, where `store(held)`
    writes the results inside the transaction that marks the run SUCCEEDED. A claim gate
    (`claim_condition(stale_before)`) is ANDed into the claim's UPDATE, e.g. a per-person
    limit on running runs; a run it holds back stays QUEUED with `waiting_message` until a
    run it `waits_for(ended_run)` ends and wakes it. `next_run`, where given, is the dotted
    path of `next_run(delivered_pk) -> pk | None`: after a broker message's run, the run of
    the same family this worker should take next in the same process (a sweep's parts).
    `announced`: whether the run's changes are published for waiting progress panels
    (runs.announcements); False for rows no panel shows on their own.
    """

    compute: str
    queue: str
    max_attempts: int = 3
    soft_limit_seconds: float | None = None
    hard_limit_seconds: float | None = None
    claim_condition: Callable[[datetime], models.Q] | None = None
    waiting_message: str = ""
    waits_for: Callable[[DurableRun], models.Q] | None = None
    next_run: str = ""
    announced: bool = True


def next_attempt_due(stale_before) -> models.Q:
    """A claim gate (RunPolicy.claim_condition) for outboxes whose rows carry
    `next_attempt_at`: a deferred send waits for its next try (xAPI statements, LTI scores)."""
    return models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=timezone.now())


# The progress panel's poll: every 100 ms during a run's first seconds, then every 500 ms.
POLL_DELAY_YOUNG_MS = 100
POLL_YOUNG_SECONDS = 5.0
POLL_DELAY_MS = 500


class DurableRun(models.Model):
    status = models.CharField(
        max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True
    )
    progress_percent = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ("-created_at",)
        indexes = [models.Index(fields=("status", "heartbeat_at"))]

    @classmethod
    def run_policy(cls) -> RunPolicy:  # pragma: no cover - every concrete model defines it
        raise NotImplementedError(f"{cls.__name__} must define run_policy()")

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def is_young(self) -> bool:
        """In the first seconds of its life, when an interactive lab usually finishes."""
        age = (timezone.now() - self.created_at).total_seconds() if self.created_at else 0
        return age < POLL_YOUNG_SECONDS

    @property
    def poll_delay_ms(self) -> int:
        """How long the progress panel waits before asking for the run's state again.

        An interactive lab finishes a second or two after it is submitted; waiting a fixed
        500 ms between polls would add a quarter of a second on average to what the
        resident waits (issue 18: the platform may add 10 %). A young run is asked about
        often, an older one (a sweep, a training) at the usual pace.
        """
        return POLL_DELAY_YOUNG_MS if self.is_young else POLL_DELAY_MS


class ExerciseQuestions(models.Model):
    """An exercise that asks the resident free-text questions about what they saw, one per
    line; the answers are kept on the resident's run (RunAnswers, runs.answers)."""

    questions = models.TextField(
        blank=True,
        help_text=_("Questions the resident answers in writing about the result, one per line."),
    )

    class Meta:
        abstract = True

    @property
    def question_prompts(self) -> list[tuple[str, str]]:
        """(stable id, prompt) per question; the id keys the resident's answer."""
        return line_question_prompts(self.questions)


class RunAnswers(models.Model):
    """The resident's answers to their exercise's questions: {question id: {"prompt",
    "answer"}}; the prompt is kept so an answer still reads right after the educator edits
    a question (runs.answers.run_answers_keep writes both fields)."""

    answers = models.JSONField(default=dict, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
