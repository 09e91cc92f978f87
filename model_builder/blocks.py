"""The lesson block that embeds the model builder's leakage exercise (curriculum.blocks
offers it)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.snippets.blocks import SnippetChooserBlock

from model_builder import selectors


class ModelBuilderBlock(blocks.StructBlock):
    """A BuilderExercise in a lesson: the resident trains it once per split from here."""

    exercise = SnippetChooserBlock("model_builder.BuilderExercise")
    introduction = blocks.TextBlock(
        required=False, help_text=_("One or two sentences shown above the exercise.")
    )

    class Meta:
        icon = "cogs"
        label = _("Model builder: the leakage exercise")
        template = "blocks/model_builder_block.html"

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        exercise = value.get("exercise")
        request = context.get("request")
        page = context.get("page")
        user = request.user if request else None
        if exercise is not None and user is not None and user.is_authenticated:
            pair = selectors.exercise_pair_for_user(
                user=user, exercise=exercise, lesson_id=page.pk if page else None
            )
            context["pair_rows"] = [
                (split, title, pair[split])
                for split, title in (
                    ("patient", _("Split by patient")),
                    ("image", _("Split by image")),
                )
            ]
        return context
