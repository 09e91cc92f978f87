"""The lesson block that embeds a cohort lab (robustness curve, measure it, shortcut)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.snippets.blocks import SnippetChooserBlock


class CohortLabBlock(blocks.StructBlock):
    exercise = SnippetChooserBlock("evaluation.CohortExercise")
    introduction = blocks.TextBlock(
        required=False, help_text=_("One or two sentences shown above the lab.")
    )

    class Meta:
        icon = "table"
        label = _("Cohort lab")
        template = "blocks/cohort_lab_block.html"
