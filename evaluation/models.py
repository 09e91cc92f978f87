"""Cohort exercises (authored) and cohort runs (the durable record of every scoring job).

A cohort run scores every case of a cohort under one or more *conditions* (the cohort as
acquired, a perturbation at a severity, the marker removed) and keeps one score per case
and condition, so the measure-it page recomputes sensitivity, PPV etc. at any threshold
without running the model again.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.fields import RichTextField

from evaluation.cohorts import COHORTS, WITH_MARKER, cohort_choices
from runs.answers import line_question_prompts
from runs.models import DurableRun, RunPolicy, RunStatus
from zoo.perturbations.registry import PERTURBATIONS, perturbation_choices
from zoo.registry import model_choices, model_title


class CohortExerciseKind(models.TextChoices):
    SWEEP = "sweep", _("Robustness curve: one perturbation swept over severities")
    MEASURE = "measure", _("Measure it: ROC, threshold, prevalence, calibration, sites")
    SHORTCUT = "shortcut", _("Shortcut: the same cases with and without the marker")


def severities_parse(text: str) -> list[float]:
    """'0, 10, 20' -> [0.0, 10.0, 20.0], sorted, duplicates removed; ValueError on bad text."""
    parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    try:
        values = sorted({float(part) for part in parts})
    except ValueError:
        raise ValueError(_("Severities are numbers separated by commas, e.g. 0, 10, 20.")) from None
    return values


class CohortExercise(models.Model):
    """What an educator authors: which model meets which cohort, and what is asked."""

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=CohortExerciseKind.choices)
    instructions = RichTextField(blank=True, features=["bold", "italic", "ol", "ul", "link"])
    questions = models.TextField(
        blank=True, help_text=_("Questions asked about the result, one per line.")
    )
    model_key = models.CharField(max_length=64, choices=model_choices)
    cohort_key = models.CharField(max_length=64, choices=cohort_choices)
    perturbation_key = models.CharField(
        max_length=64,
        choices=perturbation_choices,
        blank=True,
        help_text=_("Robustness curves only: the perturbation swept."),
    )
    severities = models.CharField(
        max_length=200,
        blank=True,
        help_text=_(
            "Robustness curves only: severities in the perturbation's unit, separated by "
            "commas (e.g. 0, 20, 40, 60, 80). The unperturbed cohort is always included."
        ),
    )
    case_count = models.PositiveIntegerField(
        default=120,
        validators=[MinValueValidator(12), MaxValueValidator(600)],
        help_text=_("Cases scored (at least 100 for a curve worth reading)."),
    )
    threshold_default = models.FloatField(
        default=0.5, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    prevalence_default = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.001), MaxValueValidator(0.999)],
        help_text=_("The prevalence PPV and NPV start at (e.g. 0.05 for a screening clinic)."),
    )
    is_published = models.BooleanField(default=True)

    panels = [
        FieldPanel("title"),
        FieldPanel("kind"),
        FieldPanel("instructions"),
        FieldPanel("questions"),
        MultiFieldPanel(
            [FieldPanel("model_key"), FieldPanel("cohort_key"), FieldPanel("case_count")],
            heading=_("Model and cohort"),
        ),
        MultiFieldPanel(
            [FieldPanel("perturbation_key"), FieldPanel("severities")],
            heading=_("Robustness curve"),
        ),
        MultiFieldPanel(
            [FieldPanel("threshold_default"), FieldPanel("prevalence_default")],
            heading=_("Measure it"),
        ),
        FieldPanel("is_published"),
    ]

    class Meta:
        ordering = ("title",)

    def __str__(self) -> str:
        return self.title

    @property
    def question_list(self) -> list[str]:
        return [line.strip() for line in self.questions.splitlines() if line.strip()]

    @property
    def question_prompts(self) -> list[tuple[str, str]]:
        """(stable id, prompt) per question; the id keys the resident's answer."""
        return line_question_prompts(self.questions)

    @property
    def severity_values(self) -> list[float]:
        return severities_parse(self.severities) if self.severities else []

    @property
    def perturbation(self):
        return PERTURBATIONS.get(self.perturbation_key)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        cohort = COHORTS.get(self.cohort_key)
        if cohort is not None and self.case_count and self.case_count > cohort.max_cases:
            errors["case_count"] = _("This cohort has at most %(n)d cases.") % {
                "n": cohort.max_cases
            }
        if self.kind == CohortExerciseKind.SWEEP:
            perturbation = self.perturbation
            if perturbation is None:
                errors["perturbation_key"] = _("A robustness curve needs a perturbation.")
            try:
                values = self.severity_values
            except ValueError as error:
                errors["severities"] = str(error)
                values = []
            if perturbation is not None and "severities" not in errors:
                if not values:
                    errors["severities"] = _("Give at least one severity.")
                outside = [
                    v
                    for v in values
                    if not perturbation.severity_min <= v <= perturbation.severity_max
                ]
                if outside:
                    errors["severities"] = _(
                        "%(title)s takes severities from %(low)g to %(high)g %(unit)s."
                    ) % {
                        "title": perturbation.title,
                        "low": perturbation.severity_min,
                        "high": perturbation.severity_max,
                        "unit": perturbation.severity_unit,
                    }
                if len(values) > 8:
                    errors["severities"] = _("Offer at most 8 severities.")
        if self.kind == CohortExerciseKind.SHORTCUT and (
            cohort is not None and WITH_MARKER not in cohort.variants
        ):
            errors["cohort_key"] = _("The shortcut lab needs the cohort with a burned-in marker.")
        if errors:
            raise ValidationError(errors)


# Cohort runs are durable runs (runs.models); the name is kept for code that imports it.
CohortRunStatus = RunStatus


class CohortRun(DurableRun):
    """One scoring job of one exercise by one person. The row is the record of work.

    `conditions` lists what each case is scored under, in order:
    [{"label": ..., "variant": ..., "severity": float | None}, ...]; condition 0 is the
    reference the worst cases are measured against. `summary` holds, per condition, the
    measures that do not depend on a threshold (computed once when the run finishes).
    """

    exercise = models.ForeignKey(CohortExercise, on_delete=models.PROTECT, related_name="runs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cohort_runs"
    )
    lesson = models.ForeignKey(
        "wagtailcore.Page", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=CohortExerciseKind.choices)
    model_key = models.CharField(max_length=64)
    cohort_key = models.CharField(max_length=64)
    perturbation_key = models.CharField(max_length=64, blank=True)
    case_count = models.PositiveIntegerField()
    conditions = models.JSONField(default=list)
    seed = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    # The resident's answers to the exercise's questions: {question id: {"prompt", "answer"}};
    # the prompt is kept so an answer still reads right after the educator edits a question.
    answers = models.JSONField(default=dict, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta(DurableRun.Meta):
        pass

    def __str__(self) -> str:
        return f"Cohort run {self.pk} ({self.get_status_display()})"

    @property
    def model_title(self) -> str:
        return model_title(self.model_key)

    @property
    def cohort_title(self) -> str:
        spec = COHORTS.get(self.cohort_key)
        return spec.title if spec else self.cohort_key

    @classmethod
    def run_policy(cls) -> RunPolicy:
        """Cohort scoring is long: the batch queue; soft limit fails it with a message."""
        return RunPolicy(
            compute="evaluation.services.cohort_run_compute",
            queue="batch",
            max_attempts=settings.LAB_RUN_MAX_ATTEMPTS,
            soft_limit_seconds=900,
            hard_limit_seconds=960,
        )

    @property
    def condition_labels(self) -> list[str]:
        return [condition["label"] for condition in self.conditions]


class CohortChunk(DurableRun):
    """One part of a cohort run: a range of cases under one condition, which any worker on
    the batch queue may score.

    A sweep is split into parts so that every free worker helps the resident who waits,
    not only the one that took the run: the run's own worker scores parts too and merges
    them when all are in (services.cohort_run_compute). A part is a durable run of its own:
    a worker that dies mid-part loses that part only; what finished is kept, so a resumed
    run starts where it stopped. A part whose run ended (cancelled, failed or done without
    it) cancels itself when it is taken.
    """

    run = models.ForeignKey(CohortRun, on_delete=models.CASCADE, related_name="chunks")
    condition_index = models.PositiveSmallIntegerField()
    case_start = models.PositiveIntegerField()
    case_stop = models.PositiveIntegerField()
    scores = models.JSONField(default=list, blank=True)
    dices = models.JSONField(default=list, blank=True)
    # host:pid of the worker process that scored it (how many workers shared a sweep).
    worker = models.CharField(max_length=100, blank=True)

    class Meta(DurableRun.Meta):
        ordering = ("run", "condition_index", "case_start")
        constraints = [
            models.UniqueConstraint(
                fields=("run", "condition_index", "case_start"),
                name="evaluation_one_chunk_per_range",
            )
        ]

    def __str__(self) -> str:
        return (
            f"Run {self.run_id}, condition {self.condition_index}, "
            f"cases {self.case_start}-{self.case_stop - 1} ({self.get_status_display()})"
        )

    @property
    def case_range(self) -> range:
        return range(self.case_start, self.case_stop)

    @classmethod
    def run_policy(cls) -> RunPolicy:
        """A part is short; it shares its run's queue and gives up with its run."""
        return RunPolicy(
            compute="evaluation.services.cohort_chunk_compute",
            next_run="evaluation.services.cohort_chunk_next",
            announced=False,  # the run's panel shows its parts through the run's progress
            queue="batch",
            max_attempts=settings.LAB_RUN_MAX_ATTEMPTS,
            soft_limit_seconds=900,
            hard_limit_seconds=960,
        )


class CohortCaseScore(models.Model):
    """One case's result under one condition of a run."""

    run = models.ForeignKey(CohortRun, on_delete=models.CASCADE, related_name="case_scores")
    condition_index = models.PositiveSmallIntegerField()
    case_index = models.PositiveIntegerField()
    has_lesion = models.BooleanField()
    site = models.CharField(max_length=64)
    organ = models.CharField(max_length=16)
    score = models.FloatField()
    dice = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ("condition_index", "case_index")
        constraints = [
            models.UniqueConstraint(
                fields=("run", "condition_index", "case_index"),
                name="evaluation_one_score_per_case",
            )
        ]

    def __str__(self) -> str:
        return f"Run {self.run_id}, condition {self.condition_index}, case {self.case_index}"


def worst_case_path(instance: CohortWorstCase, filename: str) -> str:
    return f"cohort-runs/{instance.run_id}/worst-{instance.rank}-{filename}"


class CohortWorstCase(models.Model):
    """A case the change hurt most: pictures before and after, and the scores."""

    run = models.ForeignKey(CohortRun, on_delete=models.CASCADE, related_name="worst_cases")
    rank = models.PositiveSmallIntegerField()
    case_index = models.PositiveIntegerField()
    condition_index = models.PositiveSmallIntegerField()
    has_lesion = models.BooleanField()
    site = models.CharField(max_length=64)
    score_before = models.FloatField()
    score_after = models.FloatField()
    dice_before = models.FloatField(null=True, blank=True)
    dice_after = models.FloatField(null=True, blank=True)
    before_image = models.FileField(upload_to=worst_case_path)
    after_image = models.FileField(upload_to=worst_case_path)
    saliency_image = models.FileField(upload_to=worst_case_path, blank=True)
    saliency_share_on_marker = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ("rank",)
        constraints = [
            models.UniqueConstraint(
                fields=("run", "rank"), name="evaluation_one_worst_case_per_rank"
            )
        ]

    PICTURES = ("before_image", "after_image", "saliency_image")

    def __str__(self) -> str:
        return f"Run {self.run_id}, worst case {self.rank} (case {self.case_index})"


class BaselineScores(models.Model):
    """Unperturbed scores of a model on a cohort variant, kept so repeated exercises on the
    same (model, cohort) skip the model. Keyed by a fingerprint of the weights too, so
    retrained weights never read an old model's scores."""

    model_key = models.CharField(max_length=64)
    model_fingerprint = models.CharField(max_length=64)
    cohort_key = models.CharField(max_length=64)
    variant = models.CharField(max_length=32)
    case_count = models.PositiveIntegerField()
    scores = models.JSONField()
    dices = models.JSONField()
    # The threshold-free measures of these scores (see CohortRun.summary), once computed.
    measures = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("model_key", "model_fingerprint", "cohort_key", "variant", "case_count"),
                name="evaluation_one_baseline_per_model_cohort",
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_key} on {self.cohort_key} ({self.variant}, {self.case_count} cases)"
