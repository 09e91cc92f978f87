"""Forms for marking, moderation, regrades and overrides: they parse; services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

FEEDBACK_LIMIT = 10_000
REASON_LIMIT = 4_000


class MarkForm(forms.Form):
    """One level per rubric criterion with its feedback, or plain points without a rubric."""

    feedback = forms.CharField(
        label=_("Overall feedback"),
        required=False,
        max_length=FEEDBACK_LIMIT,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, criteria: list[dict], max_points: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        if not criteria:
            self.fields["points"] = forms.FloatField(
                label=_("Points (out of %(max)s)") % {"max": f"{max_points:g}"},
                min_value=0,
                max_value=max_points,
            )
        for criterion in criteria:
            key = criterion["key"]
            self.fields[f"level-{key}"] = forms.TypedChoiceField(
                label=criterion["title"],
                coerce=int,
                widget=forms.RadioSelect,
                choices=[
                    (index, f"{level['points']:g} — {level['descriptor']}")
                    for index, level in enumerate(criterion["levels"])
                ],
                error_messages={"required": _("Choose a level for this criterion.")},
            )
            self.fields[f"feedback-{key}"] = forms.CharField(
                label=_("Feedback on “%(title)s”") % {"title": criterion["title"]},
                required=False,
                max_length=FEEDBACK_LIMIT,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
        # The overall feedback comes last on the page.
        self.order_fields([name for name in self.fields if name != "feedback"] + ["feedback"])

    def criterion_rows(self):
        """(criterion, level field, feedback field) for the template."""
        return [
            (criterion, self[f"level-{criterion['key']}"], self[f"feedback-{criterion['key']}"])
            for criterion in self.criteria
        ]

    def levels(self) -> dict[str, int]:
        return {c["key"]: self.cleaned_data[f"level-{c['key']}"] for c in self.criteria}

    def criterion_feedback(self) -> dict[str, str]:
        return {c["key"]: self.cleaned_data.get(f"feedback-{c['key']}", "") for c in self.criteria}


class DecisionForm(forms.Form):
    """A mark set with a reason: moderation and regrade decisions."""

    points = forms.FloatField(label=_("Agreed points"), min_value=0)
    reason = forms.CharField(
        label=_("Reason"), max_length=REASON_LIMIT, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, max_points: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["points"].max_value = max_points
        self.fields["points"].validators.append(
            forms.FloatField(max_value=max_points).validators[-1]
        )
        self.fields["points"].widget.attrs.update(max=max_points, step="any")


class AutoMarkOverrideForm(DecisionForm):
    """An examiner's new mark for an automatically marked answer, with the reason."""

    def __init__(self, *args, max_points: float, **kwargs):
        super().__init__(*args, max_points=max_points, **kwargs)
        self.fields["points"].label = _("New mark (points)")
        self.fields["reason"].label = _("Why the automatic mark is wrong (the candidate reads it)")


class RegradeRequestForm(forms.Form):
    reason = forms.CharField(
        label=_("Why should this mark be looked at again?"),
        max_length=REASON_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class OverrideForm(forms.Form):
    resident = forms.IntegerField(widget=forms.HiddenInput)
    assessment = forms.IntegerField(widget=forms.HiddenInput)
    percent = forms.FloatField(label=_("Percent"), min_value=0, max_value=100)
    reason = forms.CharField(label=_("Reason"), max_length=REASON_LIMIT)
