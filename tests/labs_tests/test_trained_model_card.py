"""A resident's trained model's card names its owner and shows what their labels gave: it is
for the owner, educators and admins; other residents (and blind examiners) get 404."""

import pytest
from django.urls import reverse

from model_builder import services
from model_builder.models import TrainingRunStatus
from tests.model_builder_tests.support import TINY

pytestmark = pytest.mark.django_db


def test_a_trained_models_card_is_its_owners_and_staffs_only(client, people, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    run = services.training_run_create(user=people["resident"], title="Tiny", raw_config=TINY)
    done = services.training_run_execute(run_pk=run.pk)
    assert done.status == TrainingRunStatus.SUCCEEDED, done.error_message
    card_url = reverse("labs:model_card", args=[done.zoo_key])
    seen = {}
    for who in ("resident", "outsider", "educator", "examiner", "admin"):
        client.force_login(people[who])
        seen[who] = client.get(card_url).status_code
    assert seen == {
        "resident": 200,
        "outsider": 404,
        "educator": 200,
        "examiner": 404,
        "admin": 200,
    }
    # The 404 is the same as for a model that does not exist: nothing to learn by guessing.
    client.force_login(people["outsider"])
    assert client.get(reverse("labs:model_card", args=["trained-999999"])).status_code == 404
    client.logout()
    assert client.get(card_url).status_code == 302
