"""Study pages (not DICOMweb): the study list, course visibility and quarantine review, and
importing a study from a remote DICOMweb server."""

from __future__ import annotations

import requests
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.permissions import may, visible
from studies import selectors, services
from studies.models import Study

SEARCH_KEYS = ("PatientName", "PatientID", "AccessionNumber", "StudyDate")


@login_required
@require_http_methods(["GET", "POST"])
def study_import(request):
    """GET: pick a remote and search it. POST: import one study from it."""
    if not may(request.user, "studies.store"):
        raise PermissionDenied
    remotes = selectors.import_remotes()
    if request.method == "POST":
        remote = remotes.get(request.POST.get("remote", ""))
        study_uid = request.POST.get("study", "")
        if remote is None or not selectors.UID_PATTERN.fullmatch(study_uid):
            messages.error(request, _("Choose a configured server and a study."))
            return redirect("study_import")
        try:
            outcome = services.study_import_from_remote(
                remote=remote, study_instance_uid=study_uid, user=request.user
            )
        except requests.RequestException as error:
            messages.error(
                request,
                _("The server %(s)s did not answer: %(e)s") % {"s": remote.title, "e": error},
            )
            return redirect("study_import")
        quarantined = sum(s.quarantined for s in outcome.stored)
        messages.info(
            request,
            _("Imported %(n)d instances (%(q)d quarantined for review), %(f)d refused.")
            % {"n": len(outcome.stored), "q": quarantined, "f": len(outcome.failed)},
        )
        return redirect("study_import")
    chosen = remotes.get(request.GET.get("remote", ""))
    filters = {key: request.GET.get(key, "").strip() for key in SEARCH_KEYS}
    found, error = [], ""
    if chosen is not None:
        try:
            found = selectors.remote_studies_search(remote=chosen, filters=filters)
        except requests.RequestException as exc:
            error = str(exc)
    return render(
        request,
        "studies/study_import.html",
        {
            "remotes": remotes.values(),
            "chosen": chosen,
            "filters": filters,
            "found": found,
            "error": error,
        },
    )


@login_required
@require_http_methods(["GET"])
def study_list(request):
    """Every study with its source, licence, courses and review state (educators, admins)."""
    if not may(request.user, "studies.change_courses"):
        raise PermissionDenied
    return render(
        request,
        "studies/study_list.html",
        {"studies": selectors.studies_for_management(user=request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def study_courses(request, pk: int):
    """Choose the courses that see a study; release a quarantined study after review."""
    if not may(request.user, "studies.change_courses"):
        raise PermissionDenied
    study = get_object_or_404(visible(request.user, "studies.studies", Study.objects.all()), pk=pk)
    courses = selectors.course_choices()
    if request.method == "POST":
        chosen = {str(pk) for pk in request.POST.getlist("courses")}
        services.study_courses_set(study=study, courses=[c for c in courses if str(c.pk) in chosen])
        if study.is_quarantined and request.POST.get("release") == "yes":
            services.study_quarantine_release(study=study, user=request.user)
        messages.info(request, _("Saved: %(s)s.") % {"s": study})
        return redirect("study_list")
    shown_to = set(study.courses.values_list("pk", flat=True))
    return render(
        request,
        "studies/study_courses.html",
        {"study": study, "courses": [(c, c.pk in shown_to) for c in courses]},
    )
