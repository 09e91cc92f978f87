from django import forms
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from studies.deidentify import PROFILE_OPTIONS


class DeidExerciseAdminForm(WagtailAdminModelForm):
    """The options to offer as checkboxes rather than raw JSON."""

    offered_options = forms.MultipleChoiceField(
        choices=[
            (option.key, f"{option.title} (PS3.15 {option.section})") for option in PROFILE_OPTIONS
        ],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("Options offered"),
    )
