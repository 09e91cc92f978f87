from django import forms
from django.utils.translation import gettext_lazy as _


class BreakItForm(forms.Form):
    """What a resident sets before a break-it run; ranges are enforced by the service."""

    severity = forms.FloatField(label=_("Severity"))
    lesson_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
