"""Training runs through the service layer: the trainer child process is real, the broker
is not involved (the worker tests are in test_training_worker.py)."""

import numpy as np
import pytest
from django.urls import reverse

from model_builder import services
from model_builder.models import TrainingRun, TrainingRunStatus
from model_builder.selectors import trained_model_choices_for_user
from runs.services import run_cancel
from tests.model_builder_tests.support import TINY
from zoo.base import ClassificationOutput
from zoo.registry import UnknownModel, model_get

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_tiny_training_is_evaluated_saved_and_usable_as_a_model(people):
    run = services.training_run_create(user=people["resident"], title="Tiny", raw_config=TINY)
    done = services.training_run_execute(run_pk=run.pk)
    assert done.status == TrainingRunStatus.SUCCEEDED, done.error_message
    assert [row["epoch"] for row in done.history] == [1, 2]
    assert all(row["attempt"] == 1 for row in done.history)
    test = done.metrics["test"]
    assert test["images"] == done.metrics["split"]["test_images"] > 0
    assert sum(test["confusion"].values()) == test["images"]
    auc = test["auc"]
    assert 0.0 <= auc["low"] <= auc["value"] <= auc["high"] <= 1.0
    assert done.metrics["split"]["patients_on_both_sides"] == 0
    assert "auc" in done.metrics["new_patients"]
    assert (done.model_archive.path.endswith("model.pt")) and done.model_sha256

    # The registry resolves it like a zoo model, and it runs on a real CT slice.
    from studies.selectors import study_series_load

    model = model_get(done.zoo_key)
    series = study_series_load(study_key="ct-small")
    output = model.predict(series.pixels[0], pixel_spacing_mm=series.pixel_spacing_mm)
    assert isinstance(output, ClassificationOutput)
    assert output.class_names == ("no lesion", "lesion")
    assert np.isclose(output.probabilities.sum(), 1.0)
    card = model.card()
    assert card.metrics["AUC"] == pytest.approx(auc["value"])
    assert "patient-level" in card.derivation and "Teaching only" in card.intended_use
    assert trained_model_choices_for_user(user=people["resident"]) == [
        (done.zoo_key, "Tiny (my model)")
    ]
    assert trained_model_choices_for_user(user=people["outsider"]) == []


def test_unfinished_runs_are_not_models(people):
    run = services.training_run_create(user=people["resident"], title="Not yet", raw_config=TINY)
    with pytest.raises(UnknownModel):
        model_get(run.zoo_key)
    with pytest.raises(UnknownModel):
        model_get("trained-abc")


def test_one_active_training_per_person(people, client):
    first = services.training_run_create(user=people["resident"], title="First", raw_config=TINY)
    with pytest.raises(services.TrainingRefused, match="already have a training in progress"):
        services.training_run_create(user=people["resident"], title="Second", raw_config=TINY)
    # Another person is not held back by her run.
    services.training_run_create(user=people["outsider"], title="His", raw_config=TINY)
    # The page says why, and keeps what she chose.
    client.force_login(people["resident"])
    response = client.post(
        reverse("model_builder:run_create"),
        {**TINY, "title": "Second try", "augmentations": ["flip"]},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "One training at a time per person" in page and 'value="Second try"' in page
    run_cancel(run=first)
    services.training_run_create(user=people["resident"], title="Second", raw_config=TINY)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 999}, "Epochs must lie between 1 and"),
        ({"lesion_patients": 5}, "patients must lie between 20 and"),
        ({"split": "series"}, "The split must be one of"),
        ({"model_size": "huge"}, "The model size must be one of"),
        ({"augmentations": ["mixup"]}, "Unknown augmentation: mixup"),
    ],
)
def test_out_of_bounds_configurations_are_refused(people, change, message):
    with pytest.raises(services.TrainingRefused, match=message):
        services.training_run_create(
            user=people["resident"], title="x", raw_config={**TINY, **change}
        )
    assert not TrainingRun.objects.exists()


def test_soft_time_limit_stops_training_and_keeps_the_model(people, settings):
    settings.MODEL_BUILDER_SOFT_SECONDS = 0.001
    run = services.training_run_create(
        user=people["resident"], title="Short", raw_config={**TINY, "epochs": 5}
    )
    done = services.training_run_execute(run_pk=run.pk)
    assert done.status == TrainingRunStatus.SUCCEEDED, done.error_message
    assert done.metrics["stopped_at_time_limit"] is True
    assert done.metrics["epochs_completed"] == 1 and len(done.history) == 1


def test_hard_time_limit_kills_the_training(people, settings):
    settings.MODEL_BUILDER_HARD_SECONDS = 2
    settings.MODEL_BUILDER_EPOCH_PAUSE_SECONDS = 30
    run = services.training_run_create(
        user=people["resident"], title="Too long", raw_config={**TINY, "epochs": 3}
    )
    done = services.training_run_execute(run_pk=run.pk)
    assert done.status == TrainingRunStatus.FAILED
    assert "hard time limit of 2 s" in done.error_message


def test_memory_limit_fails_the_run_with_a_clear_message(people, settings):
    settings.MODEL_BUILDER_MEMORY_BYTES = 64 * 1024**2
    run = services.training_run_create(user=people["resident"], title="Big", raw_config=TINY)
    done = services.training_run_execute(run_pk=run.pk)
    assert done.status == TrainingRunStatus.FAILED
    assert "ran out of its memory allowance (0.1 GB)" in done.error_message


def test_curves_are_a_picture_of_the_history(people, client):
    run = services.training_run_create(user=people["resident"], title="Curves", raw_config=TINY)
    TrainingRun.objects.filter(pk=run.pk).update(
        history=[
            {"epoch": 1, "train_loss": 0.7, "test_loss": 0.69, "test_auc": 0.6, "attempt": 1},
            {"epoch": 2, "train_loss": 0.5, "test_loss": 0.55, "test_auc": 0.8, "attempt": 2},
        ]
    )
    client.force_login(people["resident"])
    response = client.get(reverse("model_builder:run_curves", args=[run.pk]))
    assert response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    assert svg.startswith("<?xml") and "held-out AUC" in svg and "resumed" in svg
    client.force_login(people["outsider"])
    assert client.get(reverse("model_builder:run_curves", args=[run.pk])).status_code == 404
