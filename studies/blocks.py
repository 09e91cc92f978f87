"""StreamField blocks that show library studies (the lead adds them to lesson bodies).

`ViewerBlock` embeds the Cornerstone3D viewer (templates/viewer/viewer.html): the educator
picks an image series from the study index, an initial image, a window preset, optional
overlay series (DICOM SEG of the same study) and a caption. The viewer reads the pixels
through DICOMweb with the reader's session, so the study's course visibility still applies.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks

OVERLAY_MODALITIES = ("SEG",)
NON_IMAGE_MODALITIES = ("SEG", "SR", "RTSTRUCT", "PR", "KO")


def _series_label(series) -> str:
    study = series.study
    return (
        f"{study} — {series.modality} {series.series_number or ''} "
        f"{series.series_description} ({series.number_of_instances} images)"
    )


def image_series_choices() -> list[tuple[str, str]]:
    """Image series of the study index, labelled for the chooser (read at form time)."""
    from studies.models import Series

    # A quarantined study may carry burned-in identifying text: nobody may put it in a
    # lesson until a person has looked at its pixels and released it.
    found = (
        Series.objects.exclude(modality__in=NON_IMAGE_MODALITIES)
        .exclude(study__is_quarantined=True)
        .select_related("study")
        .order_by("study__title", "study__study_instance_uid", "series_number")
    )
    return [(series.series_instance_uid, _series_label(series)) for series in found]


def overlay_series_choices() -> list[tuple[str, str]]:
    from studies.models import Series

    found = (
        Series.objects.filter(modality__in=OVERLAY_MODALITIES)
        .exclude(study__is_quarantined=True)
        .select_related("study")
    )
    return [(series.series_instance_uid, _series_label(series)) for series in found]


PRESET_CHOICES = [
    ("", _("The image's own window")),
    ("lung", _("CT lung (W 1500, L -600)")),
    ("mediastinum", _("CT mediastinum (W 350, L 50)")),
    ("abdomen", _("CT abdomen (W 400, L 40)")),
    ("bone", _("CT bone (W 1800, L 400)")),
    ("brain", _("CT brain (W 80, L 40)")),
    ("auto", _("Auto (from the pixels)")),
]


class LibrarySeriesChoiceBlock(blocks.ChoiceBlock):
    """A series of the study library, by its UID. The choices (every series, labelled) are
    for the editor's form and its validation; a stored value is read back as the UID it
    is. ChoiceBlock's own reading matches the stored value against the choices, which ran
    the choices' query over the whole library, and labelled every series, each time a
    lesson with a viewer was rendered (issue 18: 5.7 ms per viewer block on a library of
    203 series, growing with the library)."""

    def to_python(self, value):
        return value


class ViewerBlock(blocks.StructBlock):
    series = LibrarySeriesChoiceBlock(
        choices=image_series_choices,
        label=_("Series"),
        help_text=_("A study and series from the study library."),
    )
    initial_slice = blocks.IntegerBlock(
        required=False, min_value=1, label=_("Initial image"), help_text=_("1 is the first.")
    )
    window_preset = blocks.ChoiceBlock(
        choices=PRESET_CHOICES, required=False, label=_("Window preset")
    )
    overlays = blocks.ListBlock(
        LibrarySeriesChoiceBlock(choices=overlay_series_choices, label=_("Overlay series")),
        required=False,
        default=[],
        label=_("Overlays"),
        help_text=_("Segmentations (DICOM SEG) of the same study, drawn over the images."),
    )
    caption = blocks.CharBlock(required=False, max_length=300, label=_("Caption"))

    class Meta:
        template = "blocks/viewer_block.html"
        icon = "image"
        label = _("Image viewer")

    def clean(self, value):
        from studies.models import Series

        value = super().clean(value)
        series = Series.objects.filter(series_instance_uid=value["series"]).first()
        if series is None:
            raise ValidationError(_("That series is no longer in the study library."))
        count = series.number_of_instances
        if value.get("initial_slice") and count and value["initial_slice"] > count:
            raise blocks.StructBlockValidationError(
                block_errors={
                    "initial_slice": ValidationError(
                        _("The series has %(count)d images.") % {"count": count}
                    )
                }
            )
        from accounts.permissions import visible_q

        # Over studies.Series, the same for everyone: assessments declares it.
        answer_keys = visible_q(None, "assessments.unreleased_answer_keys")

        for overlay_uid in value.get("overlays") or []:
            if Series.objects.filter(answer_keys, series_instance_uid=overlay_uid).exists():
                raise blocks.StructBlockValidationError(
                    block_errors={
                        "overlays": ValidationError(
                            _(
                                "That segmentation is an exam's answer key, hidden from "
                                "residents until the key is released: a lesson shows its "
                                "own overlay series."
                            )
                        )
                    }
                )
            if not Series.objects.filter(
                series_instance_uid=overlay_uid, study=series.study
            ).exists():
                raise blocks.StructBlockValidationError(
                    block_errors={
                        "overlays": ValidationError(_("Overlays must belong to the same study."))
                    }
                )
        return value

    def get_context(self, value, parent_context=None):
        from studies.models import Series
        from studies.selectors import series_uids_withheld

        context = super().get_context(value, parent_context=parent_context)
        request = (parent_context or {}).get("request")
        overlays = list(value.get("overlays") or [])
        if request is not None:
            # An exam key that became an overlay after the lesson was written is not shown.
            withheld = series_uids_withheld(user=request.user, uids=overlays)
            overlays = [uid for uid in overlays if uid not in withheld]
        series = (
            Series.objects.filter(series_instance_uid=value["series"])
            .select_related("study")
            .first()
        )
        context.update(
            study_uid=series.study.study_instance_uid if series else "",
            series_uid=value["series"],
            slice=value.get("initial_slice") or "",
            preset=value.get("window_preset") or "",
            overlays=json.dumps([{"type": "seg", "series": uid} for uid in overlays]),
            caption=value.get("caption") or "",
        )
        return context
