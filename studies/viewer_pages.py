"""Pages that show a study in the browser viewer (templates/viewer/, frontend/src/viewer/).

/viewer/<StudyInstanceUID>/ shows one study: any signed-in user may open the page, and the
viewer reads the images through DICOMweb with the user's own session, so a study the user
may not see is refused there (PS3.18 answers 404) and the viewer says so in its place.
?series=, ?slice=, ?preset= and ?overlays=auto set up the viewer; ?compare=<series> shows
a second, linked viewer beside the first. With ?answer=1 the page carries an answer form:
marks placed on the image are posted back and shown as the server received them (the
image-question round trip).
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_http_methods

from studies.selectors import UID_PATTERN

PRESETS = ("lung", "mediastinum", "abdomen", "bone", "brain", "auto")


def _uid_or_empty(value: str) -> str:
    return value if UID_PATTERN.fullmatch(value) else ""


@login_required
@require_http_methods(["GET", "POST"])
def viewer_page(request, study_uid: str):
    if not UID_PATTERN.fullmatch(study_uid):
        raise Http404("No such study.")
    query = request.GET
    slice_text = query.get("slice", "")
    received = None
    if request.method == "POST":
        try:
            received = json.loads(request.POST.get("marks") or "{}")
        except json.JSONDecodeError:
            received = {"error": "The marks were not valid JSON."}
    context = {
        "study_uid": study_uid,
        "series_uid": _uid_or_empty(query.get("series", "")),
        "compare_uid": _uid_or_empty(query.get("compare", "")),
        "slice": int(slice_text) if slice_text.isdigit() else "",
        "preset": query.get("preset") if query.get("preset") in PRESETS else "",
        "dicomweb_root": request.build_absolute_uri("/dicomweb").removesuffix("/"),
        "answer_mode": query.get("answer") == "1",
        # ?overlays=auto shows every segmentation of the study over the images.
        "overlays": "auto" if query.get("overlays") == "auto" else "[]",
        "received": json.dumps(received, indent=2) if received is not None else None,
    }
    return render(request, "viewer/viewer_page.html", context)


app_name = "viewer"
urlpatterns = [path("<str:study_uid>/", viewer_page, name="page")]
