"""The quiz block: a formative quiz answered inline in a lesson (curriculum.blocks offers it)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.snippets.blocks import SnippetChooserBlock


class QuizBlock(blocks.StructBlock):
    """A quiz (an Assessment of kind quiz). Passing it from the lesson counts towards the
    lesson's automatic completion (curriculum.selectors.lesson_ids_completed)."""

    assessment = SnippetChooserBlock("assessments.Assessment", label=_("Quiz"))
    introduction = blocks.TextBlock(
        required=False, help_text=_("One or two sentences shown above the quiz.")
    )

    class Meta:
        icon = "help"
        label = _("Quiz")
        template = "blocks/quiz_block.html"

    def clean(self, value):
        value = super().clean(value)
        assessment = value.get("assessment")
        if assessment is not None and not assessment.is_quiz:
            raise StructBlockValidationError(
                block_errors={
                    "assessment": ValidationError(_("Choose a quiz; exams are taken on their own."))
                }
            )
        return value

    def get_context(self, value, parent_context=None):
        from accounts import permissions
        from assessments import selectors, services
        from assessments.models import AttemptStatus

        context = super().get_context(value, parent_context=parent_context)
        request = (parent_context or {}).get("request")
        assessment = value.get("assessment")
        user = getattr(request, "user", None)
        context.update(quiz=assessment, may_take=False, attempt=None, last_result=None)
        if assessment is None or user is None or not user.is_authenticated:
            return context
        may_take = permissions.may(user, "assessments.take", assessment)
        context["may_take"] = may_take
        if not may_take:
            return context
        from django.utils import timezone

        now = timezone.now()
        # The resident's attempts, read once for the open one, the last result and the
        # attempts left (a lesson's parts asked three queries for them).
        attempts = list(selectors.attempts_of_user(user=user, assessment=assessment))
        attempt = services.attempt_in_progress(
            assessment=assessment, user=user, now=now, attempts=attempts
        )
        if attempt is None and any(each.status == AttemptStatus.IN_PROGRESS for each in attempts):
            # One ran past its deadline and was closed just now: read them as they are.
            attempts = list(selectors.attempts_of_user(user=user, assessment=assessment))
        if attempt is not None:
            items = selectors.attempt_paper_for_answering(attempt=attempt)
            context.update(
                attempt=attempt, items=items, likert=selectors.LIKERT_VALUES, lab_runs=[]
            )
            return context
        last = attempts[-1] if attempts else None
        if last is not None:
            context["last_attempt"] = last
            context["last_result"] = selectors.attempt_result(attempt=last)
            context["last_passed"] = selectors.attempt_passed(attempt=last)
        context["refusal"] = services.assessment_availability_error(
            assessment=assessment, user=user, now=now, used=len(attempts)
        )
        return context
