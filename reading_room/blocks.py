"""The lesson block that embeds a reading-room exercise (curriculum.blocks offers it)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.snippets.blocks import SnippetChooserBlock


class ReadingRoomBlock(blocks.StructBlock):
    """A triage or screening simulator (a ReadingRoomExercise snippet) inside a lesson."""

    exercise = SnippetChooserBlock("reading_room.ReadingRoomExercise")
    introduction = blocks.TextBlock(
        required=False, help_text=_("One or two sentences shown above the simulator.")
    )

    class Meta:
        icon = "time"
        label = _("Reading-room simulator")
        template = "blocks/reading_room_block.html"

    def get_context(self, value, parent_context=None):
        from reading_room import selectors
        from reading_room.simulation.presets import TRIAGE_PRESETS
        from reading_room.simulation.triage import POLICY_TITLES

        context = super().get_context(value, parent_context=parent_context)
        exercise = value.get("exercise")
        user = context.get("request").user if context.get("request") else None
        if exercise is not None:
            score_set = selectors.score_set_for_exercise(exercise=exercise)
            context["score_set"] = score_set
            if score_set is not None and score_set.is_active:
                context["score_set_progress"] = selectors.score_set_progress_context(
                    score_set=score_set
                )
            context["policies"] = [(p.value, title) for p, title in POLICY_TITLES.items()]
            context["presets"] = list(TRIAGE_PRESETS.values())
            context["disclosure"] = selectors.score_source_disclosure(
                source_key=exercise.score_source, finding=exercise.finding
            )
            context["recent_runs"] = (
                selectors.simulation_runs_for_user(user=user, exercise=exercise, limit=5)
                if user is not None and user.is_authenticated
                else []
            )
        return context
