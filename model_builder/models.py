"""Residents' labelled cohorts and training runs (the durable record of every training)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField

from runs.models import DurableRun, ExerciseQuestions, RunAnswers, RunPolicy

# The splits a leakage exercise trains once each, in the order the lesson shows them.
EXERCISE_SPLITS = ("patient", "image")


class LabelledCohort(models.Model):
    """A resident's own cohort: studies from the library with one label per study."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labelled_cohorts"
    )
    title = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.title


class StudyLabel(models.Model):
    POSITIVE, NEGATIVE = 1, 0
    LABEL_CHOICES = ((NEGATIVE, _("negative")), (POSITIVE, _("positive")))

    cohort = models.ForeignKey(LabelledCohort, on_delete=models.CASCADE, related_name="labels")
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="+")
    label = models.PositiveSmallIntegerField(choices=LABEL_CHOICES)
    # De-identification empties PatientID (PS3.15 Table E.1-1), so studies of one patient
    # are linked only by the resident's own pseudonymous key (CSV column "patient").
    patient_key = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("cohort", "study"), name="one_label_per_study")
        ]

    def __str__(self) -> str:
        return f"{self.study}: {self.get_label_display()}"


class BuilderExercise(ExerciseQuestions):
    """What an educator authors: the leakage exercise a lesson embeds. The resident trains
    the lesion cohort twice with everything fixed but the split (by patient, by image) and
    compares the held-out AUC with the AUC on new patients; then answers the questions."""

    title = models.CharField(max_length=200)
    instructions = RichTextField(blank=True, features=["bold", "italic", "ol", "ul", "link"])
    lesion_patients = models.PositiveIntegerField(
        default=800,
        validators=[MinValueValidator(20), MaxValueValidator(1200)],
        help_text=_("Virtual patients of the lesion cohort (three neighbouring slices each)."),
    )
    epochs = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    is_published = models.BooleanField(default=True)

    panels = [
        FieldPanel("title"),
        FieldPanel("instructions"),
        FieldPanel("questions"),
        FieldPanel("lesion_patients"),
        FieldPanel("epochs"),
        FieldPanel("is_published"),
    ]

    class Meta:
        ordering = ("title",)

    def __str__(self) -> str:
        return self.title


class TrainingRunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Training")
    SUCCEEDED = "succeeded", _("Finished")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


def trained_model_path(run: TrainingRun, filename: str) -> str:
    return f"trained-models/{run.pk}/{filename}"


class TrainingRun(DurableRun, RunAnswers):
    """One training asked for by one person. The row, not the broker message, is the record.

    `config` holds what the resident chose (cohort, split, augmentations, size, epochs,
    learning rate); `history` one row per finished epoch (losses, held-out AUC, and the
    attempt that computed it); `metrics` the final evaluation. The checkpoint of the last
    finished epoch lies in `work_dir` so another worker can go on from it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_runs"
    )
    # Set when the training was started from a lesson's leakage exercise (completion and
    # the exercise's questions follow it); empty for trainings started in the builder.
    exercise = models.ForeignKey(
        BuilderExercise, null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )
    lesson = models.ForeignKey(
        "wagtailcore.Page", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=120)
    config = models.JSONField()
    # The engine's states, with RUNNING shown as "Training" (same values as runs.RunStatus).
    status = models.CharField(
        max_length=16,
        choices=TrainingRunStatus.choices,
        default=TrainingRunStatus.QUEUED,
        db_index=True,
    )
    history = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    work_dir = models.CharField(max_length=200, blank=True)  # relative to MEDIA_ROOT
    checkpoint_path = models.CharField(max_length=200, blank=True)  # relative to MEDIA_ROOT
    model_archive = models.FileField(upload_to=trained_model_path, blank=True)
    model_sha256 = models.CharField(max_length=64, blank=True)
    model_spec = models.JSONField(default=dict, blank=True)

    class Meta(DurableRun.Meta):
        pass

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    @classmethod
    def run_policy(cls) -> RunPolicy:
        """Training waits on settings.MODEL_BUILDER_QUEUE ("batch", or "gpu" on CUDA hosts).
        Its time limits are the trainer child's own (it stops itself at the soft limit and
        keeps the model; the worker kills it at the hard limit), so the engine only sweeps
        a run that outlived the hard limit by a margin."""
        return RunPolicy(
            compute="model_builder.services.training_run_compute",
            queue=settings.MODEL_BUILDER_QUEUE,
            max_attempts=settings.MODEL_BUILDER_MAX_ATTEMPTS,
            hard_limit_seconds=settings.MODEL_BUILDER_HARD_SECONDS + 60,
        )

    @property
    def zoo_key(self) -> str:
        return self.zoo_key_of(self.pk)

    @staticmethod
    def zoo_key_of(pk: int) -> str:
        """The zoo key of the model the run with this pk trained."""
        return f"trained-{pk}"
