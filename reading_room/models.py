"""Reading-room exercises (authored), the model scores they draw on, and residents' runs.

`CohortScoreSet` is the durable record of one slow job (a run of the engine in `runs`): a
zoo model scored over a real cohort once, on the batch queue; its `CaseScore` rows are
reused by every simulation.
`SimulationRun` keeps each simulation a resident ran, so runs can be compared side by side.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.fields import RichTextField

from reading_room.score_sources import score_source_choices, score_source_get
from reading_room.simulation.triage import ArrivalPattern, Policy, ReadingTimeDistribution
from runs.models import DurableRun, RunPolicy, RunStatus


class ReadingRoomKind(models.TextChoices):
    TRIAGE = "triage", _("Triage: AI reorders a worklist")
    SCREENING = "screening", _("Screening: AI as first reader clears low-scoring cases")


def _unit_interval():
    return [MinValueValidator(0.0), MaxValueValidator(1.0)]


class ReadingRoomExercise(models.Model):
    """What an educator authors: the kind of simulation and the clinic it takes place in."""

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=ReadingRoomKind.choices)
    instructions = RichTextField(blank=True, features=["bold", "italic", "ol", "ul", "link"])
    score_source = models.CharField(
        max_length=64,
        choices=score_source_choices,
        default="ct-lesion-held-out",
        help_text=_("Whose scores over which cohort the simulated cases are drawn from."),
    )
    cohort_cases = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(10)],
        help_text=_(
            "Draw only from the first N cases of the cohort (fewer cases: a coarser score "
            "distribution, scored faster). Empty: the whole cohort."
        ),
    )
    prevalence = models.FloatField(
        validators=[MinValueValidator(0.0005), MaxValueValidator(0.95)],
        default=0.12,
        help_text=_("Share of studies with the finding (critical finding or cancer), 0-1."),
    )
    default_threshold = models.FloatField(validators=_unit_interval(), default=0.5)
    seed = models.PositiveIntegerField(
        default=2026,
        help_text=_("Fixes the simulated day or population, so replays compare like with like."),
    )
    # Triage
    shift_hours = models.FloatField(
        default=8.0, validators=[MinValueValidator(0.5), MaxValueValidator(24.0)]
    )
    arrivals_per_hour = models.FloatField(
        default=10.0, validators=[MinValueValidator(0.1), MaxValueValidator(120.0)]
    )
    arrival_pattern = models.CharField(
        max_length=16,
        choices=[
            (ArrivalPattern.POISSON, _("Random (Poisson process)")),
            (ArrivalPattern.FIXED, _("Fixed schedule")),
        ],
        default=ArrivalPattern.POISSON,
    )
    reading_minutes = models.FloatField(
        default=5.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(240.0)],
        help_text=_("Mean reading time of one study."),
    )
    reading_time_distribution = models.CharField(
        max_length=16,
        choices=[
            (ReadingTimeDistribution.FIXED, _("Always the mean")),
            (ReadingTimeDistribution.EXPONENTIAL, _("Exponential")),
            (ReadingTimeDistribution.LOGNORMAL, _("Log-normal (CV 0.5)")),
        ],
        default=ReadingTimeDistribution.LOGNORMAL,
    )
    radiologists = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    # Screening
    population_size = models.PositiveIntegerField(
        default=10000, validators=[MinValueValidator(10), MaxValueValidator(200000)]
    )
    human_sensitivity = models.FloatField(default=0.85, validators=_unit_interval())
    human_specificity = models.FloatField(default=0.92, validators=_unit_interval())
    is_published = models.BooleanField(default=True)

    panels = [
        FieldPanel("title"),
        FieldPanel("kind"),
        FieldPanel("instructions"),
        FieldPanel("score_source"),
        FieldPanel("cohort_cases"),
        FieldPanel("prevalence"),
        FieldPanel("default_threshold"),
        FieldPanel("seed"),
        MultiFieldPanel(
            [
                FieldPanel("shift_hours"),
                FieldPanel("arrivals_per_hour"),
                FieldPanel("arrival_pattern"),
                FieldPanel("reading_minutes"),
                FieldPanel("reading_time_distribution"),
                FieldPanel("radiologists"),
            ],
            heading=_("Triage worklist"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("population_size"),
                FieldPanel("human_sensitivity"),
                FieldPanel("human_specificity"),
            ],
            heading=_("Screening programme"),
        ),
        FieldPanel("is_published"),
    ]

    class Meta:
        ordering = ("title",)

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        super().clean()
        whole = score_source_get(self.score_source).default_cases if self.score_source else 0
        if self.cohort_cases and whole and self.cohort_cases > whole:
            raise ValidationError({"cohort_cases": _("The cohort has %(n)d cases.") % {"n": whole}})
        if self.kind == ReadingRoomKind.TRIAGE:
            expected = self.shift_hours * self.arrivals_per_hour
            if expected > 2000:
                raise ValidationError(
                    {
                        "arrivals_per_hour": _(
                            "About %(n)d studies in one shift is more than a day's worklist "
                            "this lab shows (2000 at most)."
                        )
                        % {"n": expected}
                    }
                )

    @property
    def is_triage(self) -> bool:
        return self.kind == ReadingRoomKind.TRIAGE


class CohortScoreSet(DurableRun):
    """A zoo model's scores over the first `cases` cases of a real cohort (one run, reused).

    A durable run of the engine (runs.models): status, progress, attempts and heartbeat
    are the engine's; one row per source and size, computed once on the batch queue and
    run again only when a resident asks after it failed.
    """

    source_key = models.CharField(max_length=64, choices=score_source_choices)
    cases = models.PositiveIntegerField()
    auc = models.FloatField(null=True, blank=True)
    positives = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)

    class Meta(DurableRun.Meta):
        constraints = [
            models.UniqueConstraint(fields=("source_key", "cases"), name="one_score_set_per_source")
        ]

    def __str__(self) -> str:
        return f"{self.get_source_key_display()} ({self.cases} cases, {self.get_status_display()})"

    @classmethod
    def run_policy(cls) -> RunPolicy:
        """Scoring a cohort is a batch job shared by every resident: no per-person gate."""
        return RunPolicy(
            compute="reading_room.services.score_set_compute",
            queue="batch",
            max_attempts=settings.LAB_RUN_MAX_ATTEMPTS,
        )

    @property
    def is_ready(self) -> bool:
        return self.status == RunStatus.SUCCEEDED


class CaseScore(models.Model):
    """The model's probability that one cohort case is positive, with the case's truth."""

    score_set = models.ForeignKey(CohortScoreSet, on_delete=models.CASCADE, related_name="scores")
    case_index = models.PositiveIntegerField()
    score = models.FloatField()
    is_positive = models.BooleanField()
    subgroup = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("case_index",)
        constraints = [
            models.UniqueConstraint(fields=("score_set", "case_index"), name="one_score_per_case")
        ]

    def __str__(self) -> str:
        return f"case {self.case_index}: {self.score:.3f}"


class SimulationRun(models.Model):
    """One simulation a resident ran: what they chose, and everything the plots need."""

    exercise = models.ForeignKey(ReadingRoomExercise, on_delete=models.PROTECT, related_name="runs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reading_room_runs"
    )
    lesson = models.ForeignKey(
        "wagtailcore.Page", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    score_set = models.ForeignKey(CohortScoreSet, on_delete=models.PROTECT, related_name="runs")
    kind = models.CharField(max_length=16, choices=ReadingRoomKind.choices)
    threshold = models.FloatField()
    policy = models.CharField(
        max_length=16,
        blank=True,
        choices=[(policy.value, policy.value) for policy in Policy],
        help_text=_("The policy the resident chose (triage); every policy is simulated."),
    )
    parameters = models.JSONField(default=dict)
    results = models.JSONField(default=dict)
    seconds = models.FloatField(help_text=_("Wall time of the simulation itself."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-pk")

    def __str__(self) -> str:
        return f"{self.exercise} · run {self.pk}"
