"""Lab-engine URLs for the role matrix (tests/test_role_matrix.py): a finished run of the
resident's that has a file recorded, built lazily and cached in the matrix context."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse


def _run_with_file(context: dict):
    if "run_with_file" not in context:
        run = context["run"]
        stored = default_storage.save(
            f"lab-runs/{run.pk}/1/original.dcm", ContentFile(b"\0" * 128 + b"DICM")
        )
        run.outputs = {**run.outputs, "original.dcm": stored}
        run.save(update_fields=["outputs"])
        context["run_with_file"] = run
    return context["run_with_file"]


def run_file_url(context: dict) -> str:
    return reverse("labs:run_file", args=[_run_with_file(context).pk, "original.dcm"])


def run_answers_url(context: dict) -> str:
    return reverse("labs:run_answers", args=[context["run"].pk])
