"""Pages that show a study in the browser viewer (templates/viewer/, frontend/src/viewer/).

/viewer/<StudyInstanceUID>/ shows one study: any signed-in user may open the page, and the
viewer reads the images through DICOMweb with the user's own session, so a study the user
may not see is refused there (PS3.18 answers 404) and the viewer says so in its place.
?series=, ?slice=, ?preset= and ?overlays=auto set up the viewer; ?compare=<series> shows
a second, linked viewer beside the first. With ?answer=1 the page carries an answer form
(marks on the image + the finding in words): marks placed on the image are posted back and
shown as the server received them (the image-question round trip). The marks come back to
the viewer with the page (answer_initial), so a form returned with an error keeps them.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from studies.selectors import UID_PATTERN, series_uids_withheld, study_title_visible

PRESETS = ("lung", "mediastinum", "abdomen", "bone", "brain", "auto")


# A few hundred marks with long outlines stay far below this; a bigger post is not marks.
MARKS_MAX_CHARS = 200_000


def _uid_or_empty(value: str) -> str:
    return value if UID_PATTERN.fullmatch(value) else ""


class ImageAnswerForm(forms.Form):
    """An image question's answer: marks placed in the viewer (JSON the viewer writes,
    see frontend/src/viewer/index.js answersSerialize) and the finding in words."""

    marks = forms.CharField(
        widget=forms.HiddenInput(attrs={"id": "answer-marks"}),
        required=False,
        max_length=MARKS_MAX_CHARS,
        error_messages={"max_length": "Too many marks to store: clear some and try again."},
    )
    finding = forms.CharField(
        label=_("Your finding"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Describe the finding in words as well as marking it."},
    )

    def clean_marks(self) -> dict:
        text = self.cleaned_data["marks"]
        try:
            value = json.loads(text or "{}")
        except json.JSONDecodeError:
            raise forms.ValidationError(
                _("The marks were not readable; place them again.")
            ) from None
        if not isinstance(value, dict) or not isinstance(value.get("marks", []), list):
            raise forms.ValidationError(_("The marks were not readable; place them again."))
        if not value.get("marks"):
            raise forms.ValidationError(_("Place at least one mark on the image."))
        return value


def _marks_to_keep(form: ImageAnswerForm) -> str:
    """The posted marks, re-serialised, for the viewer to draw again ("" when unreadable)."""
    marks = form.cleaned_data.get("marks") if hasattr(form, "cleaned_data") else None
    if marks is None:
        try:
            marks = json.loads(form.data.get("marks") or "null")
        except json.JSONDecodeError:
            return ""
    return json.dumps(marks) if isinstance(marks, dict) else ""


@login_required
@require_http_methods(["GET", "POST"])
def viewer_page(request, study_uid: str):
    if not UID_PATTERN.fullmatch(study_uid):
        raise Http404("No such study.")
    query = request.GET
    slice_text = query.get("slice", "")
    received = None
    answer_form = ImageAnswerForm()
    answer_initial = ""
    if request.method == "POST":
        answer_form = ImageAnswerForm(request.POST)
        if answer_form.is_valid():
            received = {
                **answer_form.cleaned_data["marks"],
                "finding": answer_form.cleaned_data["finding"],
            }
        answer_initial = _marks_to_keep(answer_form)
    series_uid = _uid_or_empty(query.get("series", ""))
    compare_uid = _uid_or_empty(query.get("compare", ""))
    # An exam's answer key is withheld from residents here as in DICOMweb: the page does not
    # even name it back (issue 13).
    withheld = series_uids_withheld(user=request.user, uids=[series_uid, compare_uid])
    context = {
        "study_uid": study_uid,
        "study_title": study_title_visible(user=request.user, study_instance_uid=study_uid),
        "series_uid": "" if series_uid in withheld else series_uid,
        "compare_uid": "" if compare_uid in withheld else compare_uid,
        "slice": int(slice_text) if slice_text.isdigit() else "",
        "preset": query.get("preset") if query.get("preset") in PRESETS else "",
        "dicomweb_root": request.build_absolute_uri("/dicomweb").removesuffix("/"),
        "answer_mode": query.get("answer") == "1" or request.method == "POST",
        "answer_form": answer_form,
        "answer_initial": answer_initial,
        # ?overlays=auto shows every segmentation of the study over the images.
        "overlays": "auto" if query.get("overlays") == "auto" else "[]",
        "received": json.dumps(received, indent=2) if received is not None else None,
    }
    return render(request, "viewer/viewer_page.html", context)


app_name = "viewer"
urlpatterns = [path("<str:study_uid>/", viewer_page, name="page")]
