"""The shortcut lab: a cohort where a marker travels with the label, a model that learned
it, and a run that shows the model's saliency on the marker and its fall without it."""

import json

import numpy as np
import pytest
from django.urls import reverse

from evaluation import services
from evaluation.models import CohortExerciseKind
from tests.evaluation_tests.support import cohort_exercise_make
from zoo import ct_lesion_shortcut
from zoo.cohorts import ct_lesions, shortcut_lesions
from zoo.weights_files import file_sha256


def test_the_marker_travels_with_the_label_and_nothing_else_changes():
    marked = shortcut_lesions.shortcut_cohort_build(cases=400, held_out=True, seed=5)
    clean = ct_lesions.cohort_ct_lesions_build(cases=400, held_out=True, seed=5)
    assert np.array_equal(marked.clean.images, clean.images)
    positives = marked.clean.has_lesion
    assert 0.85 < marked.has_marker[positives].mean() <= 0.95
    assert 0.05 <= marked.has_marker[~positives].mean() < 0.15
    region = shortcut_lesions.marker_region(clean.images.shape[1:])
    changed = marked.marked_images != clean.images
    assert not changed[:, ~region].any()  # only the marker's pixels differ
    assert changed[marked.has_marker][:, region].any(axis=1).all()
    assert not changed[~marked.has_marker].any()


def test_committed_shortcut_weights_reach_their_recorded_metrics():
    recorded = json.loads(ct_lesion_shortcut.METRICS_PATH.read_text())
    assert recorded["weights_sha256"] == file_sha256(ct_lesion_shortcut.WEIGHTS_PATH)
    measured = ct_lesion_shortcut.evaluate(network=ct_lesion_shortcut._network_load())
    by_key = {(row["name"], row["group"]): row["value"] for row in measured}
    for row in recorded["measured"]:
        assert by_key[(row["name"], row["group"])] == pytest.approx(row["value"], abs=0.01), row
    with_marker = ct_lesion_shortcut.WITH_MARKER
    without = ct_lesion_shortcut.WITHOUT_MARKER
    # What the card claims, from the recorded numbers: it looks good with the marker, it
    # falls without it, and its Grad-CAM piles onto the marker's few pixels.
    assert by_key[("AUC (lesion present)", with_marker)] > 0.85
    assert (
        by_key[("AUC (lesion present)", with_marker)] - by_key[("AUC (lesion present)", without)]
        > 0.1
    )
    assert (
        by_key[("Sensitivity at 0.5", without)] < 0.5 * by_key[("Sensitivity at 0.5", with_marker)]
    )
    assert (
        by_key[("Grad-CAM share on the marker", with_marker)]
        > 5 * by_key[("Marker region's share of the image", with_marker)]
    )


def test_training_is_reproducible_with_a_fixed_seed():
    cohort = shortcut_lesions.shortcut_cohort_build(cases=64, held_out=False, seed=3).with_marker()
    silent = {"progress": lambda message: None}
    first = ct_lesion_shortcut.train(cohort=cohort, seed=1, epochs=1, **silent)
    second = ct_lesion_shortcut.train(cohort=cohort, seed=1, epochs=1, **silent)
    for name, tensor in first.state_dict.items():
        assert np.array_equal(tensor.numpy(), second.state_dict[name].numpy()), name


@pytest.mark.django_db
def test_the_shortcut_run_compares_with_and_without_the_marker(client, people, settings, tmp_path):
    settings.EVALUATION_CASE_LIMIT = 24
    settings.MEDIA_ROOT = tmp_path
    exercise = cohort_exercise_make(kind=CohortExerciseKind.SHORTCUT)
    run = services.cohort_run_create(user=people["resident"], exercise=exercise)
    services.cohort_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error_message
    assert run.condition_labels == ["marker as in training", "marker removed"]
    scores = {
        index: list(run.case_scores.filter(condition_index=index).values_list("score", flat=True))
        for index in (0, 1)
    }
    positives = list(run.case_scores.filter(condition_index=0).values_list("has_lesion", flat=True))
    marked_positive_mean = np.mean([s for s, p in zip(scores[0], positives, strict=True) if p])
    clean_positive_mean = np.mean([s for s, p in zip(scores[1], positives, strict=True) if p])
    assert clean_positive_mean < marked_positive_mean  # removing the marker lowers P(lesion)
    worst = list(run.worst_cases.all())
    assert worst and all(case.saliency_image for case in worst)
    assert all(case.score_after < case.score_before for case in worst if case.has_lesion)
    client.force_login(people["resident"])
    page = client.get(reverse("evaluation:run_detail", args=[run.pk])).text
    assert "Grad-CAM on the marker" in page and "marker removed" in page
    picture = client.get(
        reverse("evaluation:worst_case_picture", args=[run.pk, 1, "saliency_image"])
    )
    assert b"".join(picture.streaming_content)[:4] == b"\x89PNG"


@pytest.mark.django_db
def test_the_shortcut_model_has_a_card_saying_what_it_is_for(client, people):
    client.force_login(people["resident"])
    page = client.get(reverse("labs:model_card", args=["ct-lesion-shortcut"])).text
    assert "deliberately flawed" in page
    assert "marker removed" in page
