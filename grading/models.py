"""The examiner's side of assessment: rubrics, marks, moderation, release, regrades,
the append-only audit log, the gradebook's categories and overrides, and certificates.

Everything here hangs off `assessments.Response` (one examiner-marked answer) through
`ResponseMarking`; the rules that move a marking from state to state are pure functions in
`grading.double_marking`, applied by `grading.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, InlinePanel
from wagtail.fields import StreamField
from wagtail.models import Orderable

from grading.blocks import RubricCriterionBlock

# --- Rubrics ----------------------------------------------------------------------------


class Rubric(ClusterableModel):
    """Criteria with levels, attached to questions or to whole assessments (see below)."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    criteria = StreamField([("criterion", RubricCriterionBlock())])

    panels = [
        FieldPanel("title"),
        FieldPanel("description"),
        FieldPanel("criteria"),
        InlinePanel("attachments", label=_("Used for (a question or a whole assessment)")),
    ]

    class Meta:
        ordering = ("title",)

    def __str__(self) -> str:
        return self.title


class RubricAttachment(Orderable):
    """Marks a question with this rubric, or every examiner-marked question of an assessment.

    A rubric attached to the question wins over one attached to the assessment.
    """

    rubric = ParentalKey(Rubric, on_delete=models.CASCADE, related_name="attachments")
    question = models.ForeignKey(
        "assessments.Question",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rubric_attachments",
    )
    assessment = models.ForeignKey(
        "assessments.Assessment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rubric_attachments",
    )

    panels = [FieldPanel("question"), FieldPanel("assessment")]

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if bool(self.question_id) == bool(self.assessment_id):
            raise ValidationError(_("Attach the rubric either to a question or to an assessment."))

    def __str__(self) -> str:
        return str(self.question or self.assessment)


class MarkingScheme(models.Model):
    """How an assessment's examiner-marked answers are marked. Without one, the defaults hold:
    double marking, discrepancy threshold `GRADING_DISCREPANCY_PERCENT` (10 %)."""

    assessment = models.OneToOneField(
        "assessments.Assessment", on_delete=models.CASCADE, related_name="marking_scheme"
    )
    double_marking = models.BooleanField(
        default=True, help_text=_("Two examiners mark every answer independently.")
    )
    discrepancy_percent = models.FloatField(
        default=10.0,
        help_text=_(
            "Two marks further apart than this percentage of the question's points go to a "
            "moderator; closer marks are averaged."
        ),
    )

    panels = [
        FieldPanel("assessment"),
        FieldPanel("double_marking"),
        FieldPanel("discrepancy_percent"),
    ]

    def __str__(self) -> str:
        return f"Marking of {self.assessment}"


# --- Marking ----------------------------------------------------------------------------


class MarkingState(models.TextChoices):
    UNMARKED = "unmarked", _("Unmarked")
    AWAITING_SECOND = "awaiting_second", _("First mark done, awaiting the second")
    MODERATION = "moderation", _("Marks disagree: awaiting moderation")
    AGREED = "agreed", _("Agreed, not released")
    RELEASED = "released", _("Released")
    REGRADE_REQUESTED = "regrade_requested", _("Regrade requested")


class AgreementSource(models.TextChoices):
    MARKS = "marks", _("The marks (one mark, or the mean of two that agree)")
    MODERATION = "moderation", _("A moderator")
    REGRADE = "regrade", _("A regrade")


class ResponseMarking(models.Model):
    """The marking of one examiner-marked response. Written only by `grading.services`.

    `agreed_points` is the mark the programme stands behind; `released_points` is what the
    resident sees, copied from `agreed_points` when someone releases it (so a regrade in
    progress never shows half-done).
    """

    response = models.OneToOneField(
        "assessments.Response", on_delete=models.PROTECT, related_name="grading_marking"
    )
    state = models.CharField(
        max_length=24, choices=MarkingState.choices, default=MarkingState.UNMARKED, db_index=True
    )
    # Copied from the assessment's scheme when marking starts: changing the scheme later does
    # not change the rules halfway through a marking.
    double_marking = models.BooleanField(default=True)
    discrepancy_percent = models.FloatField(default=10.0)
    agreed_points = models.FloatField(null=True, blank=True)
    agreed_source = models.CharField(max_length=16, choices=AgreementSource.choices, blank=True)
    agreed_reason = models.TextField(blank=True)
    agreed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    agreed_at = models.DateTimeField(null=True, blank=True)
    released_points = models.FloatField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Marking of {self.response} ({self.get_state_display()})"


class Mark(models.Model):
    """One examiner's independent mark of one response; changed only until it is decided."""

    marking = models.ForeignKey(ResponseMarking, on_delete=models.PROTECT, related_name="marks")
    examiner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="grading_marks"
    )
    points = models.FloatField()
    # A copy of what was chosen per rubric criterion:
    # [{"criterion", "level", "descriptor", "points", "max_points", "feedback"}].
    criteria = models.JSONField(default=list, blank=True)
    feedback = models.TextField(blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("submitted_at", "pk")
        constraints = [
            models.UniqueConstraint(fields=("marking", "examiner"), name="one_mark_per_examiner"),
        ]

    def __str__(self) -> str:
        return f"{self.points} by examiner #{self.examiner_id}"


class RegradeRequest(models.Model):
    """A resident asks for a released mark to be looked at again, with a reason."""

    marking = models.ForeignKey(
        ResponseMarking, on_delete=models.PROTECT, related_name="regrade_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    points_before = models.FloatField()
    points_after = models.FloatField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"Regrade request #{self.pk}"


class AutoMarkOverride(models.Model):
    """An examiner's correction of one automatically marked answer, with the reason.

    The scorer's own mark stays on the response (`auto_score`, with its explanation); the
    newest override of a response is what counts (assessments.selectors.attempt_marks), and
    earlier ones stay as history. Every override is also in the audit log.
    """

    response = models.ForeignKey(
        "assessments.Response", on_delete=models.PROTECT, related_name="auto_mark_overrides"
    )
    points = models.FloatField()
    points_before = models.FloatField(null=True, blank=True)
    reason = models.TextField()
    examiner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-pk")

    def __str__(self) -> str:
        return f"{self.points:g} (was {self.points_before}) for response #{self.response_id}"


# --- Audit log --------------------------------------------------------------------------


class AuditLogIsAppendOnly(Exception):
    """Raised on any attempt to change or remove an audit entry."""


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("Audit entries cannot be changed.")

    def delete(self):
        raise AuditLogIsAppendOnly("Audit entries cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditLogIsAppendOnly("Audit entries cannot be changed.")


class AuditAction(models.TextChoices):
    MARK_CREATE = "mark_create", _("Mark given")
    MARK_CHANGE = "mark_change", _("Mark changed")
    AGREE = "agree", _("Marks agreed")
    DISCREPANCY = "discrepancy", _("Marks disagree: sent to moderation")
    MODERATE = "moderate", _("Moderated")
    RELEASE = "release", _("Released")
    REGRADE_REQUEST = "regrade_request", _("Regrade requested")
    REGRADE = "regrade", _("Regraded")
    OVERRIDE = "override", _("Gradebook override")
    KEY_RELEASE = "key_release", _("Exam answer key released")
    MARKS_RELEASE = "marks_release", _("Exam marks released")
    AUTO_MARK_OVERRIDE = "auto_mark_override", _("Automatic mark overridden")


class AuditEntry(models.Model):
    """One change of a mark: who, when, before, after and why. Never changed, never deleted.

    Three locks: `save` and `delete` here, the queryset's `update`/`delete`, and database
    triggers (migration 0002) that refuse UPDATE and DELETE on the table outright. The
    people and responses it names are PROTECTed, so deleting them cannot cascade into it.
    """

    action = models.CharField(max_length=24, choices=AuditAction.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    response = models.ForeignKey(
        "assessments.Response",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="grading_audit_entries",
    )
    assessment = models.ForeignKey(
        "assessments.Assessment", null=True, on_delete=models.PROTECT, related_name="+"
    )
    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ("-at", "-pk")
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.get_action_display()} by #{self.actor_id} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit entries cannot be deleted.")


# --- Gradebook --------------------------------------------------------------------------


class GradebookCategory(models.Model):
    """A weighted group of a course's assessments (e.g. quizzes 20 %, exams 50 %)."""

    course = models.ForeignKey(
        "curriculum.CurriculumPage", on_delete=models.CASCADE, related_name="gradebook_categories"
    )
    name = models.CharField(max_length=100)
    weight = models.FloatField(help_text=_("Weight in percent of the course grade."))
    assessments = models.ManyToManyField(
        "assessments.Assessment", related_name="gradebook_categories", blank=True
    )

    panels = [
        FieldPanel("course"),
        FieldPanel("name"),
        FieldPanel("weight"),
        FieldPanel("assessments"),
    ]

    class Meta:
        ordering = ("course", "-weight", "name")
        verbose_name_plural = "gradebook categories"
        constraints = [
            models.UniqueConstraint(fields=("course", "name"), name="unique_category_name"),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0) & models.Q(weight__lte=100),
                name="category_weight_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.weight:g} %)"


class GradeOverride(models.Model):
    """A programme decision replacing one resident's percentage for one assessment.

    The newest override counts; earlier ones stay as history (and in the audit log).
    """

    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="grade_overrides"
    )
    assessment = models.ForeignKey(
        "assessments.Assessment", on_delete=models.PROTECT, related_name="grade_overrides"
    )
    percent = models.FloatField()
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-pk")

    def __str__(self) -> str:
        return f"{self.percent:g} % for #{self.resident_id} in {self.assessment}"


# --- Certificates -----------------------------------------------------------------------


class Certificate(models.Model):
    """A course completed. What it states is frozen at issue (name, course, modules and
    outcomes), so the PDF and the public verification page always say the same thing."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certificates"
    )
    course = models.ForeignKey(
        "curriculum.CurriculumPage",
        null=True,
        on_delete=models.SET_NULL,
        related_name="certificates",
    )
    code = models.CharField(max_length=64, unique=True)
    holder_name = models.CharField(max_length=300)
    course_title = models.CharField(max_length=300)
    # [{"title": module title, "outcomes": [outcome text, ...]}, ...]
    modules = models.JSONField(default=list)
    issued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-issued_at",)
        constraints = [
            models.UniqueConstraint(fields=("user", "course"), name="one_certificate_per_course"),
        ]

    def __str__(self) -> str:
        return f"{self.course_title} — {self.holder_name}"
