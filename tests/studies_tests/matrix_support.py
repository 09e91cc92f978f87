"""DICOMweb URLs for the role matrix (tests/test_role_matrix.py): one real study, CT_small,
built into the test's library root, indexed, and visible to the demo course."""

from __future__ import annotations

from django.urls import reverse

from studies.library.pipeline import library_build
from studies.models import Instance, Study
from studies.selectors import library_root
from studies.services import library_index_rebuild, study_courses_set


def _matrix_instance(context: dict) -> Instance:
    if not Study.objects.filter(key="ct-small").exists():
        library_build(out_dir=library_root(), only=["ct-small"], progress=lambda _: None)
        library_index_rebuild()
        course = context["lesson"].get_parent().get_parent()
        study_courses_set(study=Study.objects.get(key="ct-small"), courses=[course])
    return Instance.objects.select_related("series__study").get(series__study__key="ct-small")


_STUDY = ("study",)
_SERIES = ("study", "series")
_INSTANCE = ("study", "series", "instance")
_UIDS_NEEDED = {
    "study": _STUDY,
    "study_metadata": _STUDY,
    "study_thumbnail": _STUDY,
    "study_series": _STUDY,
    "study_instances": _STUDY,
    "series": _SERIES,
    "series_metadata": _SERIES,
    "series_thumbnail": _SERIES,
    "series_instances": _SERIES,
    "instance": _INSTANCE,
    "instance_metadata": _INSTANCE,
    "instance_rendered": _INSTANCE,
    "instance_thumbnail": _INSTANCE,
    "instance_frames": _INSTANCE,
    "frames_rendered": _INSTANCE,
    "instance_bulkdata": _INSTANCE,
}


def dicomweb_url(name: str, **extra: str):
    """A matrix URL function for the DICOMweb route `name`; UIDs filled in as it needs."""

    def url(context: dict) -> str:
        instance = _matrix_instance(context)
        uids = {
            "study": instance.series.study.study_instance_uid,
            "series": instance.series.series_instance_uid,
            "instance": instance.sop_instance_uid,
        }
        needed = _UIDS_NEEDED.get(name, ())
        kwargs = {key: uids[key] for key in needed}
        return reverse(f"dicomweb:{name}", kwargs={**kwargs, **extra})

    return url


def study_courses_url(context: dict) -> str:
    """The course-visibility page of the matrix study."""
    return reverse("study_courses", args=[_matrix_instance(context).series.study.pk])


def library_study_pk(context: dict) -> int:
    """The primary key of the matrix's library study (visible to the resident's course)."""
    return _matrix_instance(context).series.study.pk
