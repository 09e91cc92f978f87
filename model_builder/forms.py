"""Forms for the no-code builder: what a resident chooses, in words they know."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

from model_builder.services import DEFAULT_CONFIG, LESION_PATIENTS_MIN

AUGMENTATION_CHOICES = (
    ("flip", _("Flip left-right and up-down")),
    ("rotate", _("Small rotations (up to 10°)")),
    ("noise", _("Added noise")),
    ("intensity", _("Brightness and contrast jitter")),
)
SPLIT_CHOICES = (
    ("patient", _("By patient: every image of a patient is in training or in test (honest)")),
    ("image", _("By image: images are shuffled one by one (leaky — the lesson)")),
)
SIZE_CHOICES = (("small", _("Small (73 k weights, fast)")), ("medium", _("Medium (288 k weights)")))
LEARNING_RATE_CHOICES = (
    ("cautious", _("Cautious (0.0003)")),
    ("standard", _("Standard (0.001)")),
    ("fast", _("Fast (0.003)")),
)


class TrainingRunForm(forms.Form):
    title = forms.CharField(
        label=_("Name your model"), max_length=120, initial=_("My lesion finder")
    )
    cohort = forms.ChoiceField(label=_("Cohort"))
    lesion_patients = forms.IntegerField(
        label=_("Patients (lesion cohort)"),
        min_value=LESION_PATIENTS_MIN,
        initial=DEFAULT_CONFIG["lesion_patients"],
        help_text=_("Each patient gives three neighbouring slices; half carry a lesion."),
    )
    split = forms.ChoiceField(
        label=_("Train/test split"),
        choices=SPLIT_CHOICES,
        widget=forms.RadioSelect,
        initial="patient",
    )
    augmentations = forms.MultipleChoiceField(
        label=_("Augmentations"),
        choices=AUGMENTATION_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=DEFAULT_CONFIG["augmentations"],
    )
    model_size = forms.ChoiceField(
        label=_("Model size"), choices=SIZE_CHOICES, widget=forms.RadioSelect, initial="small"
    )
    epochs = forms.IntegerField(label=_("Epochs"), min_value=1, initial=DEFAULT_CONFIG["epochs"])
    learning_rate = forms.ChoiceField(
        label=_("Learning rate"), choices=LEARNING_RATE_CHOICES, initial="standard"
    )

    def __init__(self, *args, cohorts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cohort"].choices = [
            ("lesions", _("Lesion cohort: simulated lesions in a real chest CT"))
        ] + [
            (f"cohort-{cohort.pk}", _("My cohort: %(title)s") % {"title": cohort.title})
            for cohort in cohorts
        ]
        # Bounds come from settings at request time (tests and deployments change them).
        for name, upper in (
            ("epochs", settings.MODEL_BUILDER_MAX_EPOCHS),
            ("lesion_patients", settings.MODEL_BUILDER_LESION_PATIENTS_MAX),
        ):
            self.fields[name].max_value = upper
            self.fields[name].validators.append(MaxValueValidator(upper))
            self.fields[name].widget.attrs["max"] = upper
        self.fields["epochs"].help_text = _("1 to %(max)s.") % {
            "max": settings.MODEL_BUILDER_MAX_EPOCHS
        }


class CohortForm(forms.Form):
    title = forms.CharField(label=_("Cohort name"), max_length=120)


class LabelFileForm(forms.Form):
    labels_file = forms.FileField(
        label=_("Label file (CSV)"),
        help_text=_(
            "Columns: study (StudyInstanceUID or study key), label (1/0, positive/negative)."
        ),
    )
