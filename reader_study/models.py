"""A reader study an educator authors, and each resident's one participation in it.

The ratings are the resident's own: no grade is derived from them, and only the resident
sees them; educators see the cohort's aggregate (reader_study.selectors).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField

from reader_study.measures import RATING_SCALE
from runs.models import ExerciseQuestions, RunAnswers


class ReaderStudyExercise(ExerciseQuestions):
    """What an educator authors: how many cases per arm and how many AI marks are wrong."""

    title = models.CharField(max_length=200)
    instructions = RichTextField(blank=True, features=["bold", "italic", "ol", "ul", "link"])
    cases_per_arm = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(6), MaxValueValidator(60)],
        help_text=_(
            "Cases read without AI, and again (other, matched cases) with AI marks; even. "
            "20 per arm takes about ten minutes; fewer cases give wider intervals."
        ),
    )
    wrong_share = models.FloatField(
        default=0.2,
        validators=[MinValueValidator(0.05), MaxValueValidator(0.5)],
        help_text=_("Share of the AI's marks that are deliberately wrong (stated to residents)."),
    )
    seed = models.PositiveIntegerField(
        default=2023, help_text=_("Fixes which cases are read and which marks are wrong.")
    )
    is_published = models.BooleanField(default=True)

    panels = [
        FieldPanel("title"),
        FieldPanel("instructions"),
        FieldPanel("questions"),
        FieldPanel("cases_per_arm"),
        FieldPanel("wrong_share"),
        FieldPanel("seed"),
        FieldPanel("is_published"),
    ]

    class Meta:
        ordering = ("title",)

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        super().clean()
        if self.cases_per_arm and self.cases_per_arm % 2:
            raise ValidationError(
                {"cases_per_arm": _("An even number: half the cases hold a lesion.")}
            )

    @property
    def wrong_marks(self) -> int:
        return round(self.wrong_share * self.cases_per_arm)

    @property
    def missed_lesions(self) -> int:
        return (self.wrong_marks + 1) // 2

    @property
    def false_marks(self) -> int:
        return self.wrong_marks - self.missed_lesions


class ReaderSession(RunAnswers):
    """One resident's participation: the cases as planned when they started, and (once
    every case is rated) their measures."""

    exercise = models.ForeignKey(
        ReaderStudyExercise, on_delete=models.PROTECT, related_name="sessions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reader_sessions"
    )
    lesson = models.ForeignKey(
        "wagtailcore.Page", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    plan = models.JSONField(help_text=_("reader_study.cases.study_plan_build, as started."))
    cohort_cases = models.PositiveIntegerField()
    results = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("exercise", "user"), name="one_reader_session")
        ]

    def __str__(self) -> str:
        return f"{self.exercise} · session {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None


class ReaderRating(models.Model):
    """The resident's rating of one case; final once given (the arms must stay apart)."""

    session = models.ForeignKey(ReaderSession, on_delete=models.CASCADE, related_name="ratings")
    position = models.PositiveSmallIntegerField()
    rating = models.PositiveSmallIntegerField(choices=RATING_SCALE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("position",)
        constraints = [
            models.UniqueConstraint(fields=("session", "position"), name="one_rating_per_case")
        ]

    def __str__(self) -> str:
        return f"case {self.position}: {self.rating}"
