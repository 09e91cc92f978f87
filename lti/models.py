"""What Artefact keeps of its LTI platforms beyond django-lti's own tables (lti_tool).

django-lti stores the registrations (issuer, client id, platform URLs), deployments, the
tool's key pairs, platform users by (registration, subject) with the Artefact account they
are linked to, contexts (LMS courses), memberships and resource links. Here: the nonces
already used (a launch is accepted once), which Artefact course an LMS course places,
which line item an assessment's score goes to, and the outbox of scores (docs/lti.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from runs.models import DurableRun, RunPolicy, next_attempt_due


class UsedNonce(models.Model):
    """An id_token's nonce, spent: a replayed launch (same id_token) is refused."""

    nonce = models.CharField(max_length=255, unique=True)
    issuer = models.CharField(max_length=255)
    used_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.nonce


class CourseLink(models.Model):
    """An LMS course (LTI context) placing an Artefact course: its roster enrols there."""

    context = models.OneToOneField(
        "lti_tool.LtiContext", on_delete=models.CASCADE, related_name="artefact_course"
    )
    course = models.ForeignKey("wagtailcore.Page", on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.context} -> {self.course}"


class GradeLink(models.Model):
    """The platform line item an assessment's score is posted to, for one platform user."""

    lti_user = models.ForeignKey(
        "lti_tool.LtiUser", on_delete=models.CASCADE, related_name="grade_links"
    )
    assessment = models.ForeignKey(
        "assessments.Assessment", on_delete=models.CASCADE, related_name="+"
    )
    lineitem_url = models.URLField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("lti_user", "assessment", "lineitem_url"), name="unique_grade_link"
            )
        ]

    def __str__(self) -> str:
        return f"{self.assessment} -> {self.lineitem_url}"


class ScoreOutbox(DurableRun):
    """One score to post to a line item (AGS), sent by the run engine after commit.

    Written in the transaction that released the result, so it exists exactly when the
    release was committed; a platform that is down defers it (nothing is lost). `event_key`
    names (line item, attempt, score, grading state): the same score is queued once.
    """

    grade_link = models.ForeignKey(GradeLink, on_delete=models.CASCADE, related_name="scores")
    attempt = models.ForeignKey("assessments.Attempt", on_delete=models.CASCADE, related_name="+")
    event_key = models.CharField(max_length=200, unique=True)
    score = models.JSONField()
    send_tries = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    platform_status = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta(DurableRun.Meta):
        verbose_name = _("LTI score")
        verbose_name_plural = _("LTI score outbox")
        indexes = [models.Index(fields=("status", "heartbeat_at"), name="lti_score_status_beat")]

    def __str__(self) -> str:
        return self.event_key

    @classmethod
    def run_policy(cls) -> RunPolicy:
        return RunPolicy(
            compute="lti.services.score_send_compute",
            queue=settings.LTI_QUEUE,
            max_attempts=5,
            # As the xAPI outbox: the POST has its own timeout; a time limit would fail,
            # i.e. drop, a score whose worker died.
            soft_limit_seconds=None,
            hard_limit_seconds=None,
            claim_condition=next_attempt_due,
            waiting_message=_("Waiting to try the platform again"),
        )
