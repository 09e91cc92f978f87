from django import forms
from django.utils.translation import gettext_lazy as _


class CohortRunForm(forms.Form):
    lesson_id = forms.IntegerField(widget=forms.HiddenInput)


class OperatingPointForm(forms.Form):
    """The measure-it controls; prevalence is typed in % as clinicians quote it."""

    condition = forms.IntegerField(required=False, min_value=0)
    threshold = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        label=_("Threshold"),
        error_messages={
            "min_value": _("The threshold must lie between 0 and 1."),
            "max_value": _("The threshold must lie between 0 and 1."),
            "invalid": _("The threshold must be a number between 0 and 1."),
        },
    )
    prevalence_percent = forms.FloatField(
        required=False,
        min_value=0.1,
        max_value=99.9,
        label=_("Prevalence (%)"),
        error_messages={
            "min_value": _("The prevalence must lie between 0.1 and 99.9 %%."),
            "max_value": _("The prevalence must lie between 0.1 and 99.9 %%."),
            "invalid": _("The prevalence must be a number of per cent."),
        },
    )
