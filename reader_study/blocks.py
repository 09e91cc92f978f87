"""The lesson block that embeds a reader study (curriculum.blocks offers it)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.snippets.blocks import SnippetChooserBlock

from accounts import permissions
from reader_study import selectors


class ReaderStudyBlock(blocks.StructBlock):
    """A reader study (a ReaderStudyExercise snippet) inside a lesson."""

    exercise = SnippetChooserBlock("reader_study.ReaderStudyExercise")
    introduction = blocks.TextBlock(
        required=False, help_text=_("One or two sentences shown above the study.")
    )

    class Meta:
        icon = "view"
        label = _("Reader study (automation bias)")
        template = "blocks/reader_study_block.html"

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        exercise = value.get("exercise")
        request = context.get("request")
        user = request.user if request else None
        if exercise is not None and user is not None and user.is_authenticated:
            session = selectors.session_for_user(user=user, exercise=exercise)
            context["session"] = session
            context["rated"] = session.ratings.count() if session else 0
            context["may_view_cohort"] = permissions.may(user, "reader_study.view_cohort")
        return context
