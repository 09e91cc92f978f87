"""Question bank, assessments (quizzes and exams), attempts and responses.

A `Question` is authored once and reused; an `Assessment` lists questions and random draws
from pools (`AssessmentItem`). An `Attempt` is one sitting of one resident: which questions
were drawn, in which order and with which option order is stored on the attempt when it
starts, so a reload or a dropped connection shows the same paper. A `Response` holds one
answer; `assessments.scoring` scores it (or leaves it to an examiner, see the `grading` app).

Field names here are a contract with the `grading` app (see its models); add, never rename.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, InlinePanel, MultiFieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Orderable
from wagtail.search import index

PROMPT_FEATURES = ["bold", "italic", "ol", "ul", "link", "superscript", "subscript"]


class QuestionKind(models.TextChoices):
    SINGLE_CHOICE = "single_choice", _("Single choice")
    MULTIPLE_CHOICE = "multiple_choice", _("Multiple choice")
    NUMERIC = "numeric", _("Numeric (with tolerance and unit)")
    SHORT_TEXT = "short_text", _("Short text")
    ESSAY = "essay", _("Essay (examiner-marked)")
    IMAGE_POINT = "image_point", _("Image: click the finding")
    IMAGE_BOX = "image_box", _("Image: draw a box around the finding")
    IMAGE_OUTLINE = "image_outline", _("Image: outline the finding")
    IMAGE_SLICE = "image_slice", _("Image: choose the slice")
    CASE_RATING = "case_rating", _("Case rating (reader study, scored as AUC)")
    LAB_REPORT = "lab_report", _("Lab report (examiner-marked)")


EXAMINER_MARKED_KINDS = frozenset({QuestionKind.ESSAY, QuestionKind.LAB_REPORT})
IMAGE_KINDS = frozenset(
    {
        QuestionKind.IMAGE_POINT,
        QuestionKind.IMAGE_BOX,
        QuestionKind.IMAGE_OUTLINE,
        QuestionKind.IMAGE_SLICE,
    }
)


class Difficulty(models.TextChoices):
    EASY = "easy", _("Easy")
    MEDIUM = "medium", _("Medium")
    HARD = "hard", _("Hard")


class Question(index.Indexed, models.Model):
    """One question of the bank. `data` holds the kind-specific part, checked by its scorer.

    The shape of `data` per kind is documented in `assessments/scoring/<kind>.py`; image
    questions refer to library studies by UID (`study_uid`, `series_uid`, `seg_series_uid`,
    `segment_number`) because the study index may be rebuilt from the files at any time.
    """

    title = models.CharField(max_length=200, help_text=_("For the bank; residents see the prompt."))
    kind = models.CharField(max_length=32, choices=QuestionKind.choices)
    prompt = RichTextField(features=PROMPT_FEATURES)
    module = models.ForeignKey(
        "curriculum.ModulePage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="questions",
    )
    outcome = models.CharField(
        max_length=300, blank=True, help_text=_("The learning outcome this question tests.")
    )
    difficulty = models.CharField(
        max_length=8, choices=Difficulty.choices, default=Difficulty.MEDIUM
    )
    data = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Options, answer key, tolerance, unit, study and mask; depends on the kind."),
    )
    explanation = RichTextField(
        blank=True,
        features=PROMPT_FEATURES,
        help_text=_("Shown after answering in a quiz; after release in an exam."),
    )
    max_points = models.FloatField(default=1.0)
    pool = models.CharField(
        max_length=100,
        blank=True,
        db_index=True,
        help_text=_("Tag for random draws: an assessment may draw N questions from a pool."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    panels = [
        FieldPanel("title"),
        FieldPanel("kind"),
        FieldPanel("prompt"),
        FieldPanel("data"),
        FieldPanel("explanation"),
        FieldPanel("max_points"),
        MultiFieldPanel(
            [
                FieldPanel("module"),
                FieldPanel("outcome"),
                FieldPanel("difficulty"),
                FieldPanel("pool"),
            ],
            heading=_("Tags"),
        ),
    ]
    search_fields = [
        index.SearchField("title"),
        index.SearchField("prompt"),
        index.SearchField("outcome"),
        index.FilterField("kind"),
        index.FilterField("pool"),
    ]

    class Meta:
        ordering = ("title",)

    def __str__(self) -> str:
        return self.title

    @property
    def is_examiner_marked(self) -> bool:
        return self.kind in EXAMINER_MARKED_KINDS

    @property
    def is_image_question(self) -> bool:
        return self.kind in IMAGE_KINDS

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from assessments.scoring.base import QuestionDataError
        from assessments.scoring.registry import scorer_for

        if not self.kind:
            return
        try:
            self.data = scorer_for(self.kind).validate_data(self.data or {})
        except QuestionDataError as error:
            raise ValidationError({"data": str(error)}) from error
        if self.max_points <= 0:
            raise ValidationError({"max_points": _("A question is worth more than 0 points.")})


class AssessmentKind(models.TextChoices):
    QUIZ = "quiz", _("Quiz (formative: feedback after each answer)")
    EXAM = "exam", _("Exam (summative: marks shown once released)")


class Assessment(ClusterableModel):
    """A quiz or an exam: a list of questions and pool draws, with its rules."""

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=AssessmentKind.choices)
    course = models.ForeignKey(
        "curriculum.CurriculumPage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assessments",
        help_text=_("Residents enrolled in this course may take it; empty: every resident."),
    )
    instructions = RichTextField(blank=True, features=PROMPT_FEATURES)
    time_limit_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Empty: untimed.")
    )
    opens_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Answers after this moment are refused.")
    )
    max_attempts = models.PositiveSmallIntegerField(
        null=True, blank=True, default=1, help_text=_("Empty: unlimited.")
    )
    shuffle_questions = models.BooleanField(default=False)
    shuffle_options = models.BooleanField(default=False)
    pass_percent = models.FloatField(default=50.0)
    blind_marking = models.BooleanField(
        default=True, help_text=_("Examiners see a candidate code instead of the name.")
    )
    is_published = models.BooleanField(default=True)
    # Summative exams: residents see their marks only from this moment (examiner marks
    # additionally need their own release in the grading app). Quizzes show feedback at
    # once and ignore it.
    results_released_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Exams: when residents may see their marks.")
    )
    # Exams: the answer key (text key, explanations, and the segmentation series that score
    # image questions) is hidden from residents through every path, DICOMweb included, from
    # the moment a question is attached to the exam until an educator releases the key after
    # the exam closes (grading.services.answer_key_release, audited). Releasing marks does
    # not release it, and nobody sets it by editing the exam.
    key_released_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    panels = [
        FieldPanel("title"),
        FieldPanel("kind"),
        FieldPanel("course"),
        FieldPanel("instructions"),
        MultiFieldPanel(
            [
                FieldPanel("opens_at"),
                FieldPanel("closes_at"),
                FieldPanel("time_limit_minutes"),
                FieldPanel("max_attempts"),
            ],
            heading=_("When and how often"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("shuffle_questions"),
                FieldPanel("shuffle_options"),
                FieldPanel("pass_percent"),
                FieldPanel("blind_marking"),
                FieldPanel("is_published"),
                FieldPanel("results_released_at"),
            ],
            heading=_("Rules"),
        ),
        InlinePanel("items", label=_("Question or pool draw")),
    ]

    class Meta:
        ordering = ("title",)

    def __str__(self) -> str:
        return self.title

    @property
    def is_quiz(self) -> bool:
        return self.kind == AssessmentKind.QUIZ

    @property
    def is_exam(self) -> bool:
        return self.kind == AssessmentKind.EXAM


class AssessmentItem(Orderable):
    """Either one fixed question, or `draw_count` random questions from `pool`."""

    assessment = ParentalKey(Assessment, on_delete=models.CASCADE, related_name="items")
    question = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pool = models.CharField(
        max_length=100, blank=True, help_text=_("Draw from this pool instead of one question.")
    )
    draw_count = models.PositiveSmallIntegerField(default=1)

    panels = [FieldPanel("question"), FieldPanel("pool"), FieldPanel("draw_count")]

    def __str__(self) -> str:
        if self.question_id:
            return str(self.question)
        return f"{self.draw_count} from pool {self.pool}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if bool(self.question_id) == bool(self.pool):
            raise ValidationError(_("Choose either one question or a pool to draw from."))


class AttemptStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    SUBMITTED = "submitted", _("Submitted")
    TIMED_OUT = "timed_out", _("Submitted when time ran out")


FINISHED_STATUSES = (AttemptStatus.SUBMITTED, AttemptStatus.TIMED_OUT)


class Attempt(models.Model):
    """One sitting. Server state: the paper, the deadline and the answers live here."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="attempts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assessment_attempts"
    )
    number = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=16,
        choices=AttemptStatus.choices,
        default=AttemptStatus.IN_PROGRESS,
        db_index=True,
    )
    started_at = models.DateTimeField()
    # The server's deadline: the earlier of start + time limit and the assessment's close.
    deadline_at = models.DateTimeField(null=True, blank=True, db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    auto_score = models.FloatField(default=0.0)
    max_score = models.FloatField(default=0.0)
    candidate_code = models.CharField(max_length=16, unique=True)
    # The lesson whose quiz block started it (its completion counts on a pass), if any.
    lesson = models.ForeignKey(
        "wagtailcore.Page", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Per-question option order drawn at start: {"<question pk>": [original option indexes]}.
    option_orders = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-started_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("assessment", "user", "number"), name="unique_attempt_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assessment} — attempt {self.number} ({self.candidate_code})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class Response(models.Model):
    """One answer to one drawn question of an attempt (created empty when the attempt starts)."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="responses")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="responses")
    position = models.PositiveSmallIntegerField()
    answer = models.JSONField(null=True, blank=True)
    text = models.TextField(blank=True)
    lab_runs = models.ManyToManyField("labs.LabRun", blank=True, related_name="+")
    auto_score = models.FloatField(null=True, blank=True)
    max_points = models.FloatField()
    feedback = models.TextField(blank=True)
    saved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("attempt", "position")
        constraints = [
            models.UniqueConstraint(fields=("attempt", "question"), name="unique_response"),
            models.UniqueConstraint(fields=("attempt", "position"), name="unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.attempt.candidate_code} Q{self.position + 1}"

    @property
    def needs_examiner(self) -> bool:
        return self.question.is_examiner_marked

    @property
    def is_answered(self) -> bool:
        return self.answer is not None or bool(self.text.strip()) or self.lab_runs.exists()


class CorrectionCause(models.TextChoices):
    # Text a candidate reads, in their language (so a code, not a stored sentence).
    SHARED_MARK = (
        "shared_mark",
        _(
            "The mark stored for this question was placed for another question on the same"
            " images (a fault now fixed), so it was removed and the question counts as not"
            " answered."
        ),
    )


class MarkCorrection(models.Model):
    """A change made to a finished answer's automatic mark after the fact, kept so that the
    candidate is told what changed, when and why (issue 17 item 1: the repair of answers
    stored against the wrong question). It stays as a record; it is shown to the candidate
    once the attempt's marks are released (assessments.selectors.mark_corrections_for)."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="corrections")
    points_before = models.FloatField(null=True, blank=True)
    points_after = models.FloatField(null=True, blank=True)
    cause = models.CharField(max_length=32, choices=CorrectionCause.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "pk")

    def __str__(self) -> str:
        return f"{self.response}: {self.points_before} -> {self.points_after}"
