"""Lab exercises (authored) and lab runs (the durable record of every run a resident asks for)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField

from labs.perturbations.registry import perturbation_choices, perturbation_get
from labs.zoo.registry import model_choices
from studies.selectors import sample_study_choices


class LabKind(models.TextChoices):
    BREAK_IT = "break-it", _("Break it: perturb a study and watch the model's output change")


class LabExercise(models.Model):
    """What an educator authors: which model, study and perturbation a lab offers."""

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=LabKind.choices, default=LabKind.BREAK_IT)
    instructions = RichTextField(blank=True, features=["bold", "italic", "ol", "ul", "link"])
    model_key = models.CharField(max_length=64, choices=model_choices)
    study_key = models.CharField(max_length=64, choices=sample_study_choices)
    perturbation_key = models.CharField(max_length=64, choices=perturbation_choices)
    severity_default = models.FloatField(default=50.0)
    severity_max = models.FloatField(
        null=True,
        blank=True,
        help_text=_("Upper bound offered to residents; empty means the perturbation's own."),
    )
    is_published = models.BooleanField(default=True)

    panels = [
        FieldPanel("title"),
        FieldPanel("kind"),
        FieldPanel("instructions"),
        FieldPanel("model_key"),
        FieldPanel("study_key"),
        FieldPanel("perturbation_key"),
        FieldPanel("severity_default"),
        FieldPanel("severity_max"),
        FieldPanel("is_published"),
    ]

    class Meta:
        ordering = ("title",)

    def __str__(self) -> str:
        return self.title

    @property
    def is_runnable(self) -> bool:
        return self.is_published

    @property
    def perturbation(self):
        return perturbation_get(self.perturbation_key)

    @property
    def severity_range(self) -> tuple[float, float]:
        perturbation = self.perturbation
        upper = perturbation.severity_max
        if self.severity_max is not None:
            upper = min(upper, self.severity_max)
        return perturbation.severity_min, upper


class LabRunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Finished")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_STATUSES = (LabRunStatus.QUEUED, LabRunStatus.RUNNING)
FINAL_STATUSES = (LabRunStatus.SUCCEEDED, LabRunStatus.FAILED, LabRunStatus.CANCELLED)


def lab_run_output_path(run: LabRun, filename: str) -> str:
    return f"lab-runs/{run.pk}/{filename}"


class LabRun(models.Model):
    """One run of one exercise by one person. The row, not the broker message, is the record."""

    exercise = models.ForeignKey(LabExercise, on_delete=models.PROTECT, related_name="runs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lab_runs"
    )
    lesson = models.ForeignKey(
        "wagtailcore.Page", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parameters = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16, choices=LabRunStatus.choices, default=LabRunStatus.QUEUED, db_index=True
    )
    progress_percent = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    error_message = models.TextField(blank=True)
    original_image = models.FileField(upload_to=lab_run_output_path, blank=True)
    perturbed_image = models.FileField(upload_to=lab_run_output_path, blank=True)
    original_overlay = models.FileField(upload_to=lab_run_output_path, blank=True)
    perturbed_overlay = models.FileField(upload_to=lab_run_output_path, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=("status", "heartbeat_at"))]

    def __str__(self) -> str:
        return f"Lab run {self.pk} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def output_fields(self) -> tuple[str, ...]:
        return ("original_image", "perturbed_image", "original_overlay", "perturbed_overlay")


class UploadedModelStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for validation")
    VALID = "valid", _("Validated")
    INVALID = "invalid", _("Refused")


class UploadedModel(models.Model):
    """An educator's TorchScript model and its spec; usable in labs once VALID."""

    title = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="uploaded_models"
    )
    archive = models.FileField(upload_to="zoo-uploads/")
    archive_sha256 = models.CharField(max_length=64)
    spec = models.JSONField()
    status = models.CharField(
        max_length=16, choices=UploadedModelStatus.choices, default=UploadedModelStatus.PENDING
    )
    validation_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    validated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.title

    @property
    def zoo_key(self) -> str:
        return f"upload-{self.pk}"
