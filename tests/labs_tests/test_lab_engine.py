"""The lab engine in-process: authored offers and their validation, limits, time limits,
the three kinds of lab, the files a run writes, answers, and the lab-report run picker."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pydicom
import pytest
import torch
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from pydicom.data import get_testdata_file
from wagtail.blocks.struct_block import StructBlockValidationError

from labs import selectors, services
from labs.models import LabRun, LabRunStatus, PerturbationOfferBlock
from runs.services import run_claim, run_model_sweep
from tests.labs_tests import lab_support
from tests.labs_tests.lab_support import (
    exercise_make,
    library_index,
    offer,
    question,
)
from tests.lesson_pages import lesson_page_read

chest_ct_library = lab_support.chest_ct_library  # the session's built library (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def run_execute(run) -> LabRun:
    services.lab_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    assert run.status == LabRunStatus.SUCCEEDED, run.error_message
    return run


def stored(run, name) -> bytes:
    from django.core.files.storage import default_storage

    with default_storage.open(run.outputs[name], "rb") as handle:
        return handle.read()


def png_array(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


# --- Authoring and validation -------------------------------------------------------------


def test_each_offer_is_validated_against_its_own_range(people):
    exercise = exercise_make(
        perturbations=[offer("gaussian-noise", 0, 100, 20), offer("jpeg", 10, 60)]
    )
    resident = people["resident"]
    refused = [
        ({"perturbation_key": "gaussian-noise", "severity": 101}, "between 0 and 100"),
        ({"perturbation_key": "jpeg", "severity": 5}, "between 10 and 60"),
        ({"perturbation_key": "ct-low-dose", "severity": 5}, "does not offer"),
        ({"perturbation_key": "gaussian-noise", "severity": "lots"}, "must be a number"),
        ({"perturbation_key": "gaussian-noise", "severity": "inf"}, "between 0 and 100"),
        ({"perturbation_key": "gaussian-noise", "severity": 5, "slice_number": 2}, "between 1"),
        ({"perturbation_key": "gaussian-noise", "severity": 5, "slice_number": "x"}, "whole"),
    ]
    for request, message in refused:
        with pytest.raises(services.LabRunRefused, match=message):
            services.lab_run_create(user=resident, exercise=exercise, **request)
    assert not LabRun.objects.exists()
    run = services.lab_run_create(
        user=resident, exercise=exercise, perturbation_key="jpeg", severity=60
    )
    assert run.parameters["perturbation_key"] == "jpeg"
    assert run.parameters["severity"] == 60.0
    assert run.parameters["slice_number"] == 1


def test_an_educator_cannot_author_a_range_outside_the_perturbation():
    block = PerturbationOfferBlock()
    with pytest.raises(StructBlockValidationError) as refused:
        block.clean(block.to_python(offer("gaussian-noise", 0, 10_000)["value"]))
    assert "allows 0 to 300" in str(refused.value.block_errors["severity_max"].messages)
    cleaned = block.clean(block.to_python(offer("fgsm", 0, 8)["value"]))
    assert cleaned["severity_max"] == 8


def test_an_educator_cannot_author_a_default_outside_the_offered_range():
    block = PerturbationOfferBlock()
    with pytest.raises(StructBlockValidationError) as refused:
        block.clean(block.to_python(offer("gaussian-noise", 0, 100, default=150)["value"]))
    message = str(refused.value.block_errors["severity_default"].messages)
    assert "150 is outside the offered range 0 to 100" in message
    cleaned = block.clean(block.to_python(offer("gaussian-noise", 0, 100, default=40)["value"]))
    assert cleaned["severity_default"] == 40


def test_queued_and_running_limits_per_resident(people, settings):
    settings.LAB_RUN_MAX_QUEUED_PER_USER = 2
    settings.LAB_RUN_MAX_ACTIVE_PER_USER = 10
    settings.LAB_RUN_MAX_RUNNING_PER_USER = 1
    exercise = exercise_make()
    first = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    second = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    with pytest.raises(services.LabRunRefused, match="already have 2 runs waiting"):
        services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    assert run_claim(model=LabRun, run_pk=first.pk) is not None
    # One running already: the second waits in the queue with a message, not a worker.
    assert run_claim(model=LabRun, run_pk=second.pk) is None
    second.refresh_from_db()
    assert second.status == LabRunStatus.QUEUED
    assert "other run is still running" in second.progress_message
    # A place in the queue is free again once one run started.
    services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)


def test_soft_time_limit_fails_the_run_with_a_clear_message(people, settings):
    settings.LAB_RUN_SOFT_TIME_LIMIT_SECONDS = 0.05
    settings.RUN_STEP_PAUSE_SECONDS = 0.03
    exercise = exercise_make()
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    services.lab_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    assert run.status == LabRunStatus.FAILED
    assert "took longer than 0.05 s" in run.error_message


def test_a_run_past_the_hard_limit_is_failed_by_the_sweeper_not_retried(people, settings):
    exercise = exercise_make()
    run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    long_ago = timezone.now() - timedelta(seconds=settings.LAB_RUN_HARD_TIME_LIMIT_SECONDS + 1)
    LabRun.objects.filter(pk=run.pk).update(
        status=LabRunStatus.RUNNING, attempts=1, started_at=long_ago, heartbeat_at=long_ago
    )
    assert run_model_sweep(model=LabRun) == []
    run.refresh_from_db()
    assert run.status == LabRunStatus.FAILED
    assert "took longer than" in run.error_message


# --- The three kinds --------------------------------------------------------------------------


def test_run_and_inspect_writes_the_image_and_the_model_output(people):
    exercise = exercise_make(kind="run-and-inspect", perturbations=[], explainer_keys=["grad-cam"])
    run = run_execute(services.lab_run_create(user=people["resident"], exercise=exercise))
    assert "perturbed.dcm" not in run.outputs
    original = pydicom.dcmread(io.BytesIO(stored(run, "original.dcm")))
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    assert list(original.ImageType[:2]) == ["DERIVED", "SECONDARY"]
    assert original.SOPInstanceUID != source.SOPInstanceUID
    assert original.SeriesInstanceUID != source.SeriesInstanceUID
    assert original.StudyInstanceUID == source.StudyInstanceUID
    assert original.ImagePositionPatient == source.ImagePositionPatient
    assert original.PixelSpacing == source.PixelSpacing
    assert original.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    hounsfield = source.pixel_array * float(source.RescaleSlope) + float(source.RescaleIntercept)
    written = original.pixel_array * float(original.RescaleSlope) + float(original.RescaleIntercept)
    assert np.abs(written - hounsfield).max() <= 0.5
    labels = png_array(stored(run, "prediction-original.png"))
    assert labels.shape == (source.Rows, source.Columns)
    assert set(np.unique(labels)) <= {0, 1, 2, 3}
    assert len(np.unique(labels)) >= 3  # air, fat, soft tissue at least on this slice
    heat = png_array(stored(run, "saliency-grad-cam-original.png"))
    assert heat.shape == (source.Rows, source.Columns) and heat.max() == 255
    assert [entry["name"] for entry in run.summary["legend"]] == [
        "fat",
        "soft tissue",
        "bone/contrast",
    ]


def test_break_it_measures_the_change_and_explains_both_images(people):
    exercise = exercise_make(explainer_keys=["grad-cam"])
    run = run_execute(
        services.lab_run_create(user=people["resident"], exercise=exercise, severity=150, seed=3)
    )
    perturbed = pydicom.dcmread(io.BytesIO(stored(run, "perturbed.dcm")))
    original = pydicom.dcmread(io.BytesIO(stored(run, "original.dcm")))
    assert perturbed.SeriesInstanceUID != original.SeriesInstanceUID
    assert "gaussian-noise at severity 150" in perturbed.DerivationDescription
    difference = (
        perturbed.pixel_array.astype(float) * float(perturbed.RescaleSlope)
        + float(perturbed.RescaleIntercept)
        - (
            original.pixel_array.astype(float) * float(original.RescaleSlope)
            + float(original.RescaleIntercept)
        )
    )
    assert 130 < difference.std() < 170  # the noise the resident asked for, in HU
    for name in ("prediction-perturbed.png", "saliency-grad-cam-perturbed.png"):
        assert name in run.outputs
    assert 0 <= run.metrics["mean dice vs original"] < 0.95
    assert run.metrics["pixels relabelled (%)"] > 5
    assert -1 <= run.metrics["Grad-CAM: rank correlation, original vs perturbed map"] <= 1


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_adversarial_attack_is_small_in_hu_and_large_in_output(people, attack):
    exercise = exercise_make(perturbations=[offer(attack, 0, 50)])
    run = run_execute(
        services.lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    )
    # No pixel moved by more than epsilon (plus the 1 HU rounding of the stored DICOM).
    assert run.metrics["largest pixel change (modality units)"] <= 10.0 + 1e-3
    assert run.metrics["PSNR of the perturbed image (dB)"] > 35
    # ...and yet the tissue map changes far more than 10 HU of random noise would change it.
    noise = exercise_make(title="noise", perturbations=[offer("gaussian-noise", 0, 50)])
    noisy = run_execute(
        services.lab_run_create(user=people["resident"], exercise=noise, severity=10, seed=1)
    )
    assert run.metrics["pixels relabelled (%)"] > 2 * noisy.metrics["pixels relabelled (%)"]


def test_explain_runs_the_randomisation_check_and_keeps_the_scrambled_maps(client, people):
    exercise = exercise_make(kind="explain", perturbations=[], explainer_keys=["grad-cam"])
    run = run_execute(services.lab_run_create(user=people["resident"], exercise=exercise))
    steps = run.summary["sanity"]["grad-cam"]
    assert len(steps) >= 2
    for _layer, spearman, ssim in steps:
        assert -1 <= spearman <= 1 and -1 <= ssim <= 1
    # The map of a fully scrambled network is not the real one.
    assert run.metrics["Grad-CAM: rank correlation, all weights scrambled"] < 0.9
    real = png_array(stored(run, "saliency-grad-cam-original.png"))
    scrambled = png_array(stored(run, "sanity-grad-cam-all.png"))
    assert real.shape == scrambled.shape and not np.array_equal(real, scrambled)
    client.force_login(people["resident"])
    page = client.get(reverse("labs:run_detail", args=[run.pk])).content.decode()
    assert "Weight-randomisation check" in page
    assert "Original, maps of the scrambled model" in page
    assert "sanity-grad-cam-all.png" in page and "sanity-grad-cam-top-view.png" in page


def test_an_explain_lab_with_a_perturbation_maps_both_images_and_checks_the_cheapest(
    client, people
):
    exercise = exercise_make(
        kind="explain",
        perturbations=[offer("gaussian-noise", 0, 200, 80)],
        explainer_keys=["integrated-gradients", "occlusion", "grad-cam"],
    )
    run = run_execute(
        services.lab_run_create(user=people["resident"], exercise=exercise, severity=80, seed=1)
    )
    for key in ("grad-cam", "integrated-gradients", "occlusion"):
        for side in ("original", "perturbed"):
            assert f"saliency-{key}-{side}.png" in run.outputs, (key, side)
    # One check, drawn with the explainer cheapest to repeat, block by block.
    assert set(run.summary["sanity"]) == {"grad-cam"}
    assert "sanity-grad-cam-all.png" in run.outputs
    assert "sanity-occlusion-all.png" not in run.outputs
    client.force_login(people["resident"])
    page = client.get(reverse("labs:run_detail", args=[run.pk])).content.decode()
    assert "Weight-randomisation check with Grad-CAM" in page
    assert "Blocks scrambled (from the output end)" in page
    # The run's heading names its model and perturbation as people know them, not by key.
    assert f">{run.model_title}</a> (model card)" in page
    assert run.model_title != run.parameters["model_key"]
    assert f"{run.perturbation_title} at severity" in page
    assert f"{run.parameters['perturbation_key']} at severity" not in page
    # People read how many blocks were scrambled, not the network's layer names.
    blocks = run.summary["sanity"]["grad-cam"]
    assert f'<th scope="row">1 of {len(blocks)}</th>' in page
    for layer, _spearman, _ssim in blocks:
        assert f'<th scope="row">{layer}</th>' not in page


def test_authoring_refuses_explainers_a_run_could_not_afford(settings):
    from django.core.exceptions import ValidationError

    exercise = exercise_make(
        kind="explain", perturbations=[], explainer_keys=["grad-cam", "occlusion"]
    )
    exercise.full_clean()  # the defaults fit
    settings.LAB_RUN_MAX_NETWORK_PASSES = 50
    with pytest.raises(ValidationError) as refused:
        exercise.full_clean()
    message = " ".join(refused.value.message_dict["explainer_keys"])
    assert "limit 50" in message and "Occlusion alone needs 81" in message


def test_a_run_over_the_pass_limit_fails_before_computing_with_what_to_drop(settings, people):
    exercise = exercise_make(
        kind="explain", perturbations=[], explainer_keys=["grad-cam", "occlusion"]
    )
    run = services.lab_run_create(user=people["resident"], exercise=exercise)
    settings.LAB_RUN_MAX_NETWORK_PASSES = 50
    services.lab_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    assert run.status == LabRunStatus.FAILED
    assert "limit 50" in run.error_message and "Occlusion" in run.error_message


def test_a_run_stopped_for_time_shows_what_finished_and_which_explainer_to_untick(
    client, people, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    from zoo.explainers.occlusion import Occlusion

    exercise = exercise_make(
        kind="explain", perturbations=[], explainer_keys=["grad-cam", "occlusion"]
    )

    def time_is_up(self, **_):
        # What Celery raises in the worker when the soft limit fires mid-computation.
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(Occlusion, "attribute", time_is_up)
    run = services.lab_run_create(user=people["resident"], exercise=exercise)
    services.lab_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    assert run.status == LabRunStatus.FAILED
    assert "Grad-CAM" in run.error_message and "Occlusion unticked" in run.error_message
    assert "saliency-grad-cam-original.png" in run.outputs
    assert "saliency-occlusion-original.png" not in run.outputs
    client.force_login(people["resident"])
    page = client.get(reverse("labs:run_detail", args=[run.pk])).content.decode()
    assert "The run failed." in page and "What finished before the run stopped" in page
    assert "saliency-grad-cam-original-view.png" in page
    # The advice is one the form can act on: the same lab with Grad-CAM alone.
    again = run_execute(
        services.lab_run_create(
            user=people["resident"], exercise=exercise, explainer_keys=["grad-cam"]
        )
    )
    assert again.parameters["explainer_keys"] == ["grad-cam"]
    with pytest.raises(services.LabRunRefused):
        services.lab_run_create(user=people["resident"], exercise=exercise, explainer_keys=[])


def test_classifier_probabilities_and_their_change_on_the_chest_ct(
    people, settings, chest_ct_library
):
    library_index(chest_ct_library, settings)
    exercise = exercise_make(
        model_key="ct-lesion",
        study_key="chest-ct",
        slice_default=70,
        perturbations=[offer("gaussian-noise", 0, 300)],
        explainer_keys=["grad-cam"],
    )
    run = run_execute(
        services.lab_run_create(user=people["resident"], exercise=exercise, severity=250)
    )
    assert run.parameters["slice_number"] == 70
    assert run.summary["rows"] == run.summary["columns"] == 512
    before, after = run.metrics["P(lesion), original"], run.metrics["P(lesion), perturbed"]
    assert run.metrics["change in P(lesion)"] == pytest.approx(after - before)
    display = selectors.lab_run_result_display(run)
    assert display["probabilities"][1]["name"] == "lesion"
    assert display["model_card_url"] == reverse("labs:model_card", args=["ct-lesion"])
    perturbed = pydicom.dcmread(io.BytesIO(stored(run, "perturbed.dcm")))
    assert (perturbed.Rows, perturbed.Columns) == (512, 512)


def test_a_prompt_labs_viewer_opens_the_studys_first_image_series_from_the_cache(
    people, settings, chest_ct_library, django_assert_num_queries
):
    from studies.models import Study

    library_index(chest_ct_library, settings)
    study = Study.objects.get(key="chest-ct")
    ct = study.series.exclude(modality="SEG").get()
    images = ct.instances.count()
    exercise = exercise_make(kind="prompt", study_key="chest-ct", slice_default=0)
    viewer = selectors.exercise_prompt_viewer(exercise)
    assert viewer == {
        "study_uid": study.study_instance_uid,
        "series_uid": ct.series_instance_uid,
        "slice": (images + 1) // 2,
    }
    # Every later reader of the lesson: no query (the form's image count shares the entry).
    with django_assert_num_queries(0):
        assert selectors.exercise_prompt_viewer(exercise) == viewer
        assert selectors.study_image_count_shown(study_key="chest-ct") == images
    # Not in the library (a built-in sample): no viewer, and the sample's own image count.
    sample = exercise_make(kind="prompt", study_key="ct-small")
    assert selectors.exercise_prompt_viewer(sample) is None
    assert selectors.study_image_count_shown(study_key="ct-small") == 1


# --- Pages: result, files, answers, the run picker ----------------------------------------


def test_run_page_shows_linked_viewers_and_serves_only_the_runs_files(client, people):
    exercise = exercise_make(explainer_keys=["grad-cam"])
    run = run_execute(
        services.lab_run_create(user=people["resident"], exercise=exercise, severity=60)
    )
    client.force_login(people["resident"])
    page = client.get(reverse("labs:run_detail", args=[run.pk])).content.decode()
    assert page.count("data-viewer") >= 2  # original and perturbed, side by side
    assert f"lab-run-{run.pk}" in page
    assert reverse("labs:run_file", args=[run.pk, "perturbed.dcm"]) in page
    assert "saliency-grad-cam-perturbed.png" in page
    assert reverse("labs:model_card", args=["ct-tissue"]) in page
    response = client.get(reverse("labs:run_file", args=[run.pk, "perturbed.dcm"]))
    assert response["Content-Type"] == "application/dicom"
    assert b"".join(response.streaming_content)[128:132] == b"DICM"
    for name in ("settings.py", "..%2F..%2Fsecret.png", "original.txt"):
        assert client.get(f"/labs/runs/{run.pk}/files/{name}").status_code == 404
    client.force_login(people["outsider"])
    assert client.get(reverse("labs:run_file", args=[run.pk, "perturbed.dcm"])).status_code == 404


def test_answers_are_kept_with_the_run_and_shown_escaped(client, people):
    exercise = exercise_make(
        questions=[
            question("Which tissue class changed most?", "q-tissue"),
            question("Would you trust this model on a low-dose scan?", "q-trust"),
        ]
    )
    run = run_execute(
        services.lab_run_create(user=people["resident"], exercise=exercise, severity=60)
    )
    client.force_login(people["resident"])
    page = client.get(reverse("labs:run_detail", args=[run.pk])).content.decode()
    assert "Which tissue class changed most?" in page
    response = client.post(
        reverse("labs:run_answers", args=[run.pk]),
        {"answer-q-tissue": "<script>alert(1)</script> fat", "answer-q-trust": "No."},
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.answers["q-trust"] == {
        "prompt": "Would you trust this model on a low-dose scan?",
        "answer": "No.",
    }
    page = client.get(reverse("labs:run_detail", args=[run.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; fat" in page
    # An educator reads the answers but does not write them.
    client.force_login(people["educator"])
    assert client.post(reverse("labs:run_answers", args=[run.pk]), {}).status_code == 404


def test_run_picker_offers_only_the_residents_own_finished_runs(rf, people):
    exercise = exercise_make()
    mine = run_execute(
        services.lab_run_create(user=people["resident"], exercise=exercise, severity=20)
    )
    waiting = services.lab_run_create(user=people["resident"], exercise=exercise, severity=20)
    theirs = run_execute(
        services.lab_run_create(user=people["educator"], exercise=exercise, severity=20)
    )
    assert list(selectors.lab_runs_reportable(people["resident"])) == [mine]
    request = rf.get("/")
    request.user = people["resident"]
    html = render_to_string(
        "labs/_run_picker.html", {"field_name": "lab_runs", "selected": [mine.pk]}, request
    )
    assert f'name="lab_runs" value="{mine.pk}" checked' in html
    assert f'value="{waiting.pk}"' not in html and f'value="{theirs.pk}"' not in html


def test_the_lab_block_offers_each_perturbation_and_the_image_choice(client, demo_lesson):
    from tests.labs_tests.lab_support import lesson_embed

    exercise = exercise_make(
        title="Two ways to break it",
        perturbations=[offer("gaussian-noise", 0, 100), offer("fgsm", 0, 20)],
    )
    lesson_embed(demo_lesson, exercise)
    from accounts.models import Enrolment

    resident = Enrolment.objects.filter(course=demo_lesson.get_parent().get_parent()).first()
    client.force_login(resident.user)
    page = lesson_page_read(client, demo_lesson.url).content.decode()
    assert "Adversarial noise (FGSM) (0–20: HU" in page
    assert "Gaussian noise" in page
    assert reverse("labs:model_card", args=["ct-tissue"]) in page


def test_educators_author_exercises_in_the_cms(client, people):
    exercise = exercise_make(explainer_keys=["grad-cam", "occlusion"])
    client.force_login(people["admin"])
    add = client.get("/cms/snippets/labs/labexercise/add/")
    assert add.status_code == 200
    page = add.content.decode()
    for label in ("Explainers offered", "Integrated Gradients", "Perturbations", "Questions"):
        assert label in page
    edit = client.get(f"/cms/snippets/labs/labexercise/edit/{exercise.pk}/")
    assert edit.status_code == 200
    assert 'value="occlusion"' in edit.content.decode()


class SoftTissueAsLiver(torch.nn.Module):
    """A real (deliberately naive) TorchScript segmenter an educator might upload: it calls
    every pixel in a soft-tissue band 'liver'. Its Dice against the library's liver
    segment is what a resident would measure."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x = (HU + 140) / 400 under a W400/L60 window; the band 0.38..0.62 is 12..108 HU.
        liver = 1.0 - ((x - 0.5) / 0.12) ** 2
        return torch.cat([torch.zeros_like(liver), liver], dim=1)


def test_segmenter_dice_against_the_library_seg_ground_truth(people, settings, chest_ct_library):
    import hashlib

    from django.core.files.base import ContentFile

    from labs.computation import _seg_frames
    from labs.models import UploadedModel, UploadedModelStatus
    from zoo.uploaded import UploadSpec

    library_index(chest_ct_library, settings)
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(SoftTissueAsLiver()), buffer)
    spec = UploadSpec(
        modality="CT",
        input_rows=512,
        input_columns=512,
        normalisation="window",
        output="segmentation",
        labels=("background", "liver"),
        window_centre=60.0,
        window_width=400.0,
    )
    upload = UploadedModel(
        title="Soft tissue as liver",
        uploaded_by=people["educator"],
        archive_sha256=hashlib.sha256(buffer.getvalue()).hexdigest(),
        spec=spec.to_json(),
        status=UploadedModelStatus.VALID,
    )
    upload.archive.save("liver.pt", ContentFile(buffer.getvalue()), save=False)
    upload.save()
    images = selectors.study_image_paths(study_key="chest-ct")
    # The teaching segmentation (the chest CT also holds an exam's answer key series).
    segments, frames = next(
        _seg_frames(str(path), path.stat().st_mtime)
        for path in selectors.study_seg_paths(study_key="chest-ct")
        if "liver" in _seg_frames(str(path), path.stat().st_mtime)[0]
    )
    with_liver = {uid for uid, number in frames if number == segments["liver"]}
    numbers = [
        index + 1
        for index, path in enumerate(images)
        if str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID) in with_liver
    ]
    exercise = exercise_make(
        model_key=upload.zoo_key,
        study_key="chest-ct",
        perturbations=[offer("gaussian-noise", 0, 300)],
    )
    run = run_execute(
        services.lab_run_create(
            user=people["resident"],
            exercise=exercise,
            severity=200,
            slice_number=numbers[len(numbers) // 2],
        )
    )
    before = run.metrics["dice vs truth: liver, original"]
    after = run.metrics["dice vs truth: liver, perturbed"]
    assert 0.2 < before < 1.0  # the liver is in the band, so is much else
    assert after < before  # noise pushes liver pixels out of the band
    assert run.metrics["change in dice vs truth: liver"] == pytest.approx(after - before)


# --- A volume model: deepbet on the whole Colin27 head ------------------------------------


def test_authoring_refuses_maps_and_attacks_on_a_volume_model():
    from django.core.exceptions import ValidationError

    for fields in (
        {"kind": "explain", "explainer_keys": ["grad-cam"]},
        {"kind": "break-it", "perturbations": [offer("fgsm", 0, 8, 4)]},
    ):
        exercise = exercise_make(model_key="mr-brain-deepbet", study_key="brain-t1-colin27")
        for name, value in fields.items():
            setattr(exercise, name, value)
        with pytest.raises(ValidationError, match="whole volume"):
            exercise.clean()
    fine = exercise_make(model_key="mr-brain-deepbet", study_key="brain-t1-colin27")
    fine.perturbations = [offer("mr-motion-ghosting", 0, 8, 4)]
    fine.clean()


@pytest.fixture(scope="session")
def colin27_library(tmp_path_factory):
    from studies.library.sources import DEFAULT_CACHE_DIR, sources_cached
    from tests.library_builds import library_with
    from zoo import mr_brain_deepbet
    from zoo.weights_files import pinned_wheel_cached

    if not sources_cached(cache_dir=DEFAULT_CACHE_DIR):
        pytest.skip("study sources are not cached: run `python -m studies.library fetch`")
    if not pinned_wheel_cached(weights=mr_brain_deepbet.DEEPBET):
        pytest.skip("deepbet weights not cached: run `python manage.py zoo_build`")
    return library_with(tmp_path_factory, ["brain-t1-colin27"], name="colin27-library")


def test_a_volume_model_runs_on_the_whole_series_and_shows_the_chosen_image(
    settings, colin27_library
):
    """deepbet reads the whole head: the lab perturbs every image, runs the model before
    and after, and shows the chosen image's mask beside its ground truth (the library's SEG
    of ch2bet), with the whole brain's volume."""
    from labs.computation import LabRequest, lab_compute

    library_index(colin27_library, settings)
    paths = selectors.study_image_paths(study_key="brain-t1-colin27")
    chosen = len(paths) // 2
    result = lab_compute(
        request=LabRequest(
            kind="break-it",
            study_key="brain-t1-colin27",
            model_key="mr-brain-deepbet",
            slice_index=chosen,
            perturbation_key="mr-rician-noise",
            severity=20.0,
            seed=1,
        ),
        paths=paths,
        seg_paths=selectors.study_seg_paths(study_key="brain-t1-colin27"),
    )
    shown = pydicom.dcmread(paths[chosen])
    assert result.original.shape == (int(shown.Rows), int(shown.Columns))
    assert result.prediction_original.labels.shape == result.original.shape
    assert result.metrics["dice vs truth: brain, original"] > 0.9
    assert 1000 < result.metrics["brain volume (mL), original"] < 2500  # an adult brain + CSF
    assert "brain volume (mL), perturbed" in result.metrics
    assert "dice vs original, whole volume: brain" in result.metrics
    assert "dice vs original: brain" in result.metrics  # the model's own class names
    # Rician noise lifts the dark background: never below zero, mean above it.
    background = result.original == 0
    assert result.perturbed.min() >= 0 and result.perturbed[background].mean() > 0
