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
