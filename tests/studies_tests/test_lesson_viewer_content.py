"""A lesson's viewer block names a library study; loading the course makes it visible."""

import pytest

from accounts import permissions
from curriculum.models import LessonPage
from curriculum.services import curriculum_content_load
from studies.models import Study


@pytest.mark.django_db
def test_loading_a_lesson_with_a_viewer_shows_its_study_to_the_course(
    study_library, demo_lesson, people
):
    study = Study.objects.get(key="chest-ct")
    assert not permissions.may(people["resident"], "studies.view_study", study)

    course, _report = curriculum_content_load(
        only_lessons={"dicom-and-the-information-model/reading-a-header"}
    )
    lesson = LessonPage.objects.get(slug="reading-a-header")
    viewers = [block.value for block in lesson.body if block.block_type == "viewer"]
    assert len(viewers) == 1
    ct_series = study.series.get(series_number=1)
    assert viewers[0]["series"] == ct_series.series_instance_uid
    assert viewers[0]["window_preset"] == "mediastinum"
    assert course.pk == demo_lesson.get_parent().get_parent().pk
    assert permissions.may(people["resident"], "studies.view_study", study)
    assert not permissions.may(people["outsider"], "studies.view_study", study)


@pytest.mark.django_db
def test_the_viewer_page_names_the_study_by_its_title(client, study_library, people):
    study = Study.objects.get(key="chest-ct")
    client.force_login(people["educator"])
    page = client.get(f"/viewer/{study.study_instance_uid}/").content.decode()
    assert f'title="{study.study_instance_uid}">Study: {study.title}<' in page
    assert "pk&#x27;" not in page


@pytest.mark.django_db
def test_a_viewer_block_reads_its_own_series_not_the_librarys_list(
    client, study_library, demo_lesson, people
):
    """Reading a lesson with a viewer reads the series it shows (and its overlays), never
    the editor's list of every series in the library (ChoiceBlock matched a stored value
    against its choices, a query over the whole library per viewer and per page view)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.services import enrolment_create
    from curriculum.lesson_shell import READER_PARTS_URL

    course, _report = curriculum_content_load(
        only_lessons={"dicom-and-the-information-model/reading-a-header"}
    )
    enrolment_create(user=people["resident"], course=course)
    lesson = LessonPage.objects.get(slug="reading-a-header")
    viewer = next(block.value for block in lesson.body if block.block_type == "viewer")
    shown = {viewer["series"], *viewer["overlays"]}
    client.force_login(people["resident"])
    client.get(lesson.url)
    with CaptureQueriesContext(connection) as queries:
        parts = client.get(lesson.url + READER_PARTS_URL)
    assert parts.status_code == 200
    assert f'data-series="{viewer["series"]}"' in parts.content.decode()
    series_reads = [q["sql"] for q in queries if 'FROM "studies_series"' in q["sql"]]
    assert series_reads, "the block reads its series"
    for sql in series_reads:
        # Each names the series shown, or one study (the lesson's lab reads its study's).
        assert any(uid in sql for uid in shown) or '"studies_study"."key" = ' in sql, sql
