from django import forms
from django.utils.translation import gettext_lazy as _

from reading_room.simulation.presets import TRIAGE_PRESETS
from reading_room.simulation.triage import POLICY_TITLES


class SimulationForm(forms.Form):
    """What a resident sets before a simulation; the service checks the ranges again."""

    threshold = forms.FloatField(
        label=_("AI threshold"),
        min_value=0.0,
        max_value=1.0,
        error_messages={
            "invalid": _("The threshold must be a number between 0 and 1."),
            "min_value": _("The threshold must be a number between 0 and 1."),
            "max_value": _("The threshold must be a number between 0 and 1."),
            "required": _("Give a threshold between 0 and 1."),
        },
    )
    policy = forms.ChoiceField(
        label=_("Reading order"),
        required=False,
        choices=[(policy.value, title) for policy, title in POLICY_TITLES.items()],
    )
    clinic = forms.ChoiceField(
        label=_("Clinic"),
        required=False,
        choices=[("", _("As the exercise sets it"))]
        + [(key, preset.title) for key, preset in TRIAGE_PRESETS.items()],
    )
    aging_minutes = forms.FloatField(
        label=_("Aging rule: read next after waiting (minutes)"),
        required=False,
        min_value=1.0,
        max_value=1440.0,
        error_messages={
            "invalid": _("The aging limit must be a number of minutes."),
            "min_value": _("The aging limit must lie between 1 and 1440 minutes."),
            "max_value": _("The aging limit must lie between 1 and 1440 minutes."),
        },
    )


class LessonForm(forms.Form):
    """The lesson a request comes from: exercises run only inside lessons that embed them."""

    lesson_id = forms.IntegerField(widget=forms.HiddenInput)
