import zipfile

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from zoo.explainers.registry import explainer_choices


class LabRunForm(forms.Form):
    """What a resident sets before a run. Kept as text: the service checks every value
    against the exercise's offers and answers with a message the resident can act on."""

    perturbation_key = forms.CharField(required=False, max_length=64)
    severity = forms.CharField(required=False, max_length=32, label=_("Severity"))
    slice_number = forms.CharField(required=False, max_length=16, label=_("Image"))
    model_key = forms.CharField(required=False, max_length=64, label=_("Model"))
    lesson_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # The explainers left ticked; `explainers_shown` says the boxes were on the form, so
    # none ticked means none (an older form without the boxes means all).
    explainer_keys = forms.MultipleChoiceField(
        required=False, choices=explainer_choices, label=_("Explainers")
    )
    explainers_shown = forms.BooleanField(required=False, widget=forms.HiddenInput)
    # Prompt labs: the marks the resident drew in the lab's viewer, as the viewer posts them
    # (JSON); the service finds the box and refuses anything else.
    prompt = forms.CharField(required=False, max_length=20_000, widget=forms.HiddenInput)

    def chosen_explainer_keys(self) -> list[str] | None:
        if not self.cleaned_data.get("explainers_shown"):
            return None
        return list(self.cleaned_data.get("explainer_keys") or [])


class ModelUploadForm(forms.Form):
    """An educator's TorchScript model and what it expects; checked again by the service."""

    title = forms.CharField(max_length=200)
    archive = forms.FileField(
        label=_("TorchScript file"),
        help_text=_("Saved with torch.jit.save(torch.jit.script(model), path)."),
    )
    modality = forms.ChoiceField(choices=[("CT", "CT"), ("MR", "MR")])
    input_rows = forms.IntegerField(min_value=16, max_value=1024, initial=128)
    input_columns = forms.IntegerField(min_value=16, max_value=1024, initial=128)
    normalisation = forms.ChoiceField(
        choices=[
            ("window", _("Window (centre/width) to 0..1")),
            ("zscore", _("Zero mean, unit variance")),
            ("minmax", _("Minimum..maximum to 0..1")),
        ]
    )
    window_centre = forms.FloatField(initial=40.0, required=False)
    window_width = forms.FloatField(initial=400.0, required=False)
    output = forms.ChoiceField(
        choices=[
            ("classification", _("Classification: (1, labels)")),
            ("segmentation", _("Segmentation: (1, labels, rows, columns)")),
        ]
    )
    labels = forms.CharField(
        help_text=_("One name per output channel, separated by commas, e.g. normal, nodule.")
    )

    def clean_archive(self):
        """Refuse an archive whose entries would expand past ZOO_UPLOAD_EXPANDED_MAX_BYTES,
        from the sizes its central directory declares (PKWARE APPNOTE 4.3.12), before any
        entry is read, tested or extracted: a 4 MB zip expanding to 4 GiB would otherwise
        cost seconds of CPU in the web request. What the file is otherwise is for the
        model validation to say."""
        upload = self.cleaned_data["archive"]
        limit = settings.ZOO_UPLOAD_EXPANDED_MAX_BYTES
        try:
            with zipfile.ZipFile(upload) as archive:
                declared = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            declared = 0
        finally:
            upload.seek(0)
        if declared > limit:
            raise forms.ValidationError(
                _(
                    "This archive expands to %(declared)s MB; models up to %(limit)s MB "
                    "expanded are accepted. Nothing was unpacked or stored."
                ),
                params={"declared": declared // 2**20, "limit": limit // 2**20},
            )
        return upload

    def spec(self):
        from zoo.uploaded import UploadSpec

        data = self.cleaned_data
        return UploadSpec(
            modality=data["modality"],
            input_rows=data["input_rows"],
            input_columns=data["input_columns"],
            normalisation=data["normalisation"],
            output=data["output"],
            labels=tuple(label.strip() for label in data["labels"].split(",") if label.strip()),
            window_centre=data["window_centre"] if data["window_centre"] is not None else 40.0,
            window_width=data["window_width"] if data["window_width"] is not None else 400.0,
        )
