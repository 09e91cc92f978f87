"""A model a resident built without code is tested in the same break-it labs as the zoo's."""

import pytest

from labs import services as lab_services
from labs.models import LabRunStatus
from model_builder import services
from model_builder.models import TrainingRunStatus
from tests.lesson_pages import lesson_page_read
from tests.model_builder_tests.support import TINY

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_resident_breaks_their_own_model_and_nobody_else_can_use_it(people, demo_lesson, client):
    trained = services.training_run_execute(
        run_pk=services.training_run_create(
            user=people["resident"], title="Mine", raw_config=TINY
        ).pk
    )
    assert trained.status == TrainingRunStatus.SUCCEEDED, trained.error_message
    exercise = demo_lesson.body[1].value["exercise"]

    client.force_login(people["resident"])
    page = lesson_page_read(client, demo_lesson.url).content.decode()
    assert f'<option value="{trained.zoo_key}">Mine (my model)</option>' in page

    run = lab_services.lab_run_create(
        user=people["resident"],
        exercise=exercise,
        lesson=demo_lesson,
        severity=exercise.offers[0].default,
        model_key=trained.zoo_key,
        seed=3,
    )
    assert run.parameters["model_key"] == trained.zoo_key
    done = lab_services.lab_run_execute(run_pk=run.pk)
    assert done.status == LabRunStatus.SUCCEEDED, done.error_message
    assert any("lesion" in name for name in done.metrics), done.metrics

    with pytest.raises(lab_services.LabRunRefused, match="model you trained yourself"):
        lab_services.lab_run_create(
            user=people["outsider"],
            exercise=exercise,
            lesson=demo_lesson,
            severity=exercise.offers[0].default,
            model_key=trained.zoo_key,
        )
