"""The lesson block that embeds a de-identification exercise (offered in curriculum.blocks)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.snippets.blocks import SnippetChooserBlock


class DeidBlock(blocks.StructBlock):
    """A DeidExercise in a lesson: residents start an attempt from here."""

    exercise = SnippetChooserBlock("deid_lab.DeidExercise")
    introduction = blocks.TextBlock(
        required=False, help_text=_("One or two sentences shown above the exercise.")
    )

    class Meta:
        icon = "lock"
        label = _("De-identification lab")
        template = "blocks/deid_block.html"
