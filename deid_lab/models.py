"""De-identification exercises (authored) and attempts (the durable record of a resident's work)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField

from deid_lab.forms import DeidExerciseAdminForm
from deid_lab.seeding import VARIANT_CHOICES
from runs.models import DurableRun, ExerciseQuestions, RunAnswers, RunPolicy, RunStatus
from studies.deidentify import PROFILE_OPTIONS


def all_option_keys() -> list[str]:
    return [option.key for option in PROFILE_OPTIONS]


class DeidExercise(ExerciseQuestions):
    """What an educator authors: the seeded study's variant and which PS3.15 options to offer."""

    title = models.CharField(max_length=200)
    instructions = RichTextField(blank=True, features=["bold", "italic", "ol", "ul", "link"])
    variant = models.CharField(max_length=16, choices=VARIANT_CHOICES, default="declared")
    offered_options = models.JSONField(
        default=all_option_keys,
        help_text=_("The PS3.15 Annex E options residents may choose on top of the Basic Profile."),
    )
    is_published = models.BooleanField(default=True)

    base_form_class = DeidExerciseAdminForm
    panels = [
        FieldPanel("title"),
        FieldPanel("instructions"),
        FieldPanel("variant"),
        FieldPanel("offered_options"),
        FieldPanel("questions"),
        FieldPanel("is_published"),
    ]

    class Meta:
        ordering = ("title",)

    def __str__(self) -> str:
        return self.title

    @property
    def options_offered(self):
        """The offered options, in the order of PS3.15 (unknown keys are skipped)."""
        offered = set(self.offered_options or [])
        return [option for option in PROFILE_OPTIONS if option.key in offered]


class DeidAttemptStatus(models.TextChoices):
    """The engine's run states (runs.models.RunStatus, same values), preceded by the two
    steps a resident takes before the first run. The engine only ever acts on QUEUED and
    RUNNING rows, so it never touches an attempt still in FINDING or CHOOSING."""

    FINDING = "finding", _("Finding the leaks")
    CHOOSING = "choosing", _("Choosing the options")
    QUEUED = RunStatus.QUEUED.value, RunStatus.QUEUED.label
    RUNNING = RunStatus.RUNNING.value, RunStatus.RUNNING.label
    SUCCEEDED = RunStatus.SUCCEEDED.value, RunStatus.SUCCEEDED.label
    FAILED = RunStatus.FAILED.value, RunStatus.FAILED.label
    CANCELLED = RunStatus.CANCELLED.value, RunStatus.CANCELLED.label


def deid_attempt_output_path(attempt: DeidAttempt, filename: str) -> str:
    return f"deid-lab/{attempt.pk}/{filename}"


class DeidAttempt(DurableRun, RunAnswers):
    """One resident working through one exercise: findings, options, and the latest run.

    A durable run of the engine (runs.models) whose row a resident may run again with
    other options: each run request queues the same row afresh (runs.services.
    run_offer_again). Status, progress, attempts and heartbeat are the engine's.
    """

    exercise = models.ForeignKey(DeidExercise, on_delete=models.PROTECT, related_name="attempts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deid_attempts"
    )
    lesson = models.ForeignKey(
        "wagtailcore.Page", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=16,
        choices=DeidAttemptStatus.choices,
        default=DeidAttemptStatus.FINDING,
        db_index=True,
    )
    findings = models.JSONField(default=list, blank=True)  # the element paths ticked
    finding_score = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=list, blank=True)  # option keys of the latest run
    # The secret shift of the Modified Dates option, fixed per attempt (PS3.15 E.3.6).
    date_offset_days = models.IntegerField()
    result = models.JSONField(default=dict, blank=True)
    original_image = models.FileField(upload_to=deid_attempt_output_path, blank=True)
    deidentified_image = models.FileField(upload_to=deid_attempt_output_path, blank=True)
    deidentified_file = models.FileField(upload_to=deid_attempt_output_path, blank=True)

    class Meta(DurableRun.Meta):
        pass

    def __str__(self) -> str:
        return f"De-identification attempt {self.pk} ({self.get_status_display()})"

    @classmethod
    def run_policy(cls) -> RunPolicy:
        """A run takes seconds, on the queue residents wait on."""
        return RunPolicy(
            compute="deid_lab.services.deid_attempt_compute",
            queue="interactive",
            max_attempts=settings.LAB_RUN_MAX_ATTEMPTS,
        )

    @property
    def findings_submitted(self) -> bool:
        return self.status != DeidAttemptStatus.FINDING

    @property
    def may_choose_options(self) -> bool:
        return self.status == DeidAttemptStatus.CHOOSING or self.is_final
