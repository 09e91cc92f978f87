"""Rubric criteria as StreamField blocks: each criterion lists its levels (points + descriptor).

A mark stores a copy of the criterion and level it used (see `Mark.criteria`), so editing a
rubric later never changes a mark already given.
"""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks


class RubricLevelBlock(blocks.StructBlock):
    points = blocks.FloatBlock(min_value=0)
    descriptor = blocks.CharBlock(
        max_length=300, help_text=_("What work at this level looks like.")
    )


class RubricCriterionBlock(blocks.StructBlock):
    title = blocks.CharBlock(max_length=120)
    description = blocks.TextBlock(required=False)
    levels = blocks.ListBlock(RubricLevelBlock(), min_num=2)

    class Meta:
        icon = "list-ol"
