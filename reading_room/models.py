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
from reading_room.simulation.screening import MAX_DIFFICULTY_CORRELATION
from reading_room.simulation.triage import ArrivalPattern, Policy, ReadingTimeDistribution
from runs.models import DurableRun, ExerciseQuestions, RunAnswers, RunPolicy, RunStatus


class ReadingRoomKind(models.TextChoices):
    TRIAGE = "triage", _("Triage: AI reorders a worklist")
    SCREENING = "screening", _("Screening: AI in a double-reading programme")


def _unit_interval():
    return [MinValueValidator(0.0), MaxValueValidator(1.0)]


class ReadingRoomExercise(ExerciseQuestions):
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
    finding = models.CharField(
        max_length=80,
        blank=True,
        help_text=_(
            "What a positive case is in this clinic (e.g. 'pulmonary embolism'). When the "
            "score source's model finds something else, the lab tells the resident plainly "
            "that it borrows that model's scores."
        ),
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
    backlog_studies = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(500)],
        help_text=_("Studies already waiting when the shift starts (an overnight backlog)."),
    )
    aging_minutes = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1.0), MaxValueValidator(1440.0)],
        help_text=_(
            "Aging rule offered by default: a study waiting this long is read next, oldest "
            "first. Empty: no aging rule (the resident can still set one)."
        ),
    )
    # Screening. Reader defaults: the first reader and double reading with arbitration of
    # the Danish programme, 257 671 screens (Elhakim et al. 2023): first reader sensitivity
    # 63.7 %, specificity 97.8 %; with arbitration 73.9 % and 97.9 %. The arbitration rates
    # below are what reproduces those combined figures in this model (see
    # simulation/screening.py), and give a recall rate of about 2.7 %, inside Europe's 2-4 %.
    population_size = models.PositiveIntegerField(
        default=20000, validators=[MinValueValidator(10), MaxValueValidator(200000)]
    )
    human_sensitivity = models.FloatField(default=0.64, validators=_unit_interval())
    human_specificity = models.FloatField(default=0.978, validators=_unit_interval())
    arbitration_sensitivity = models.FloatField(
        default=0.72,
        validators=_unit_interval(),
        help_text=_("Share of discordant cancers the arbitrator recalls."),
    )
    arbitration_specificity = models.FloatField(
        default=0.52,
        validators=_unit_interval(),
        help_text=_("Share of discordant non-cancers the arbitrator does not recall."),
    )
    error_correlation = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(MAX_DIFFICULTY_CORRELATION)],
        help_text=_(
            "0: human and AI errors independent. Above 0: a shared case difficulty (read "
            "from the AI's score) makes humans miss the cancers the AI scores low."
        ),
    )
    is_published = models.BooleanField(default=True)

    panels = [
        FieldPanel("title"),
        FieldPanel("kind"),
        FieldPanel("instructions"),
        FieldPanel("questions"),
        FieldPanel("score_source"),
        FieldPanel("finding"),
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
                FieldPanel("backlog_studies"),
                FieldPanel("aging_minutes"),
            ],
            heading=_("Triage worklist"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("population_size"),
                FieldPanel("human_sensitivity"),
                FieldPanel("human_specificity"),
                FieldPanel("arbitration_sensitivity"),
                FieldPanel("arbitration_specificity"),
                FieldPanel("error_correlation"),
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
            expected = self.shift_hours * self.arrivals_per_hour + self.backlog_studies
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


class SimulationRun(RunAnswers):
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
