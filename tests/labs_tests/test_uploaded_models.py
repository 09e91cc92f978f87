"""Educators' own TorchScript models: refused at the door, or validated in the sandbox."""

import io
import pickle

import numpy as np
import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labs import services
from labs.models import UploadedModel, UploadedModelStatus
from studies.selectors import study_series_load
from zoo.base import ClassificationOutput, SegmentationOutput, WeightsUnavailable, ZooError
from zoo.registry import UnknownModel, model_choices, model_get
from zoo.uploaded import UploadSpec

CLASSIFIER_SPEC = UploadSpec(
    modality="CT",
    input_rows=64,
    input_columns=64,
    normalisation="window",
    output="classification",
    labels=("normal", "abnormal"),
)

SEGMENTER_SPEC = UploadSpec(
    modality="CT",
    input_rows=64,
    input_columns=64,
    normalisation="window",
    output="segmentation",
    labels=("background", "tissue"),
)


class TinyClassifier(torch.nn.Module):
    def __init__(self, classes: int = 2):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.head = torch.nn.Linear(4, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).mean(dim=(2, 3)))


class TinySegmenter(torch.nn.Module):
    def __init__(self, classes: int = 2):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Spinner(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = x.sum()
        while bool(total > -1.0e30):
            total = total + 1.0
        return x


class Hog(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        big = torch.ones(1024, 1024, 1024)  # 4 GiB of float32
        return x.mean(dim=(2, 3)).repeat(1, 2) + big.sum()


def torchscript_upload(module: torch.nn.Module, name: str = "model.pt") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module.eval()), buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def upload_and_validate(user, module, spec=CLASSIFIER_SPEC) -> UploadedModel:
    model = services.uploaded_model_create(
        user=user, title="Tiny", upload=torchscript_upload(module), spec=spec
    )
    assert model.status == UploadedModelStatus.PENDING
    return services.uploaded_model_validate(model_pk=model.pk)


@pytest.mark.django_db
def test_a_valid_classifier_is_validated_and_usable_in_labs(people, media):
    model = upload_and_validate(people["educator"], TinyClassifier())
    assert model.status == UploadedModelStatus.VALID, model.validation_message
    assert "output shape [1, 2]" in model.validation_message
    assert (model.zoo_key, "Tiny (uploaded)") in model_choices()
    zoo_model = model_get(model.zoo_key)
    output = zoo_model.predict(study_series_load(study_key="ct-small").pixels[0])
    assert isinstance(output, ClassificationOutput)
    assert output.class_names == ("normal", "abnormal")
    assert output.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.django_db
def test_a_segmenter_returns_labels_on_the_studys_own_grid(people, media):
    spec = UploadSpec(
        modality="MR",
        input_rows=32,
        input_columns=32,
        normalisation="zscore",
        output="segmentation",
        labels=("background", "tissue"),
    )
    model = upload_and_validate(people["educator"], TinySegmenter(), spec)
    assert model.status == UploadedModelStatus.VALID, model.validation_message
    image = study_series_load(study_key="mr-small-sample").pixels[0]
    output = model_get(model.zoo_key).predict(image)
    assert isinstance(output, SegmentationOutput)
    assert output.labels.shape == image.shape


@pytest.mark.django_db
def test_output_that_does_not_match_the_spec_is_refused(people, media):
    three_classes = TinyClassifier(classes=3)
    model = upload_and_validate(people["educator"], three_classes)
    assert model.status == UploadedModelStatus.INVALID
    assert "returned shape (1, 3)" in model.validation_message
    with pytest.raises(UnknownModel):
        model_get(model.zoo_key)


@pytest.mark.django_db
def test_a_model_that_never_finishes_hits_the_time_limit(people, media, settings):
    settings.ZOO_UPLOAD_TIMEOUT_SECONDS = 3
    model = upload_and_validate(people["educator"], Spinner())
    assert model.status == UploadedModelStatus.INVALID
    assert "did not finish within 3 s" in model.validation_message


@pytest.mark.django_db
def test_a_model_that_eats_memory_hits_the_memory_limit(people, media, settings):
    model = upload_and_validate(people["educator"], Hog())
    assert model.status == UploadedModelStatus.INVALID
    assert "memory" in model.validation_message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (pickle.dumps({"weights": [1, 2, 3]}), "Arbitrary pickles are refused"),
        (b"PK\x03\x04 not really a zip", "Arbitrary pickles are refused"),
        ("state_dict", "state dict"),
    ],
    ids=["pickle", "broken-zip", "state-dict"],
)
def test_non_torchscript_files_are_refused_before_anything_is_stored(
    people, media, content, expected
):
    if content == "state_dict":
        buffer = io.BytesIO()
        torch.save(TinyClassifier().state_dict(), buffer)
        content = buffer.getvalue()
    with pytest.raises(services.ModelUploadRefused, match=expected):
        services.uploaded_model_create(
            user=people["educator"],
            title="Bad",
            upload=SimpleUploadedFile("bad.pt", content),
            spec=CLASSIFIER_SPEC,
        )
    assert not UploadedModel.objects.exists()
    assert not list(media.rglob("*.pt"))


@pytest.mark.django_db
def test_inconsistent_spec_and_oversize_files_are_refused(people, media, settings):
    bad_spec = UploadSpec(
        modality="PET",
        input_rows=8,
        input_columns=64,
        normalisation="window",
        output="classification",
        labels=("only-one",),
    )
    with pytest.raises(services.ModelUploadRefused, match="Modality must be one of CT, MR"):
        services.uploaded_model_create(
            user=people["educator"],
            title="x",
            upload=torchscript_upload(TinyClassifier()),
            spec=bad_spec,
        )
    settings.ZOO_UPLOAD_MAX_BYTES = 1000
    with pytest.raises(services.ModelUploadRefused, match="the limit is 0 MB"):
        services.uploaded_model_create(
            user=people["educator"],
            title="x",
            upload=torchscript_upload(TinyClassifier()),
            spec=CLASSIFIER_SPEC,
        )


@pytest.mark.django_db
def test_upload_page_stores_and_lists_the_model(
    client, people, media, eager_tasks, django_capture_on_commit_callbacks
):
    client.force_login(people["educator"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("labs:uploaded_model_create"),
            {
                "title": "My nodule classifier",
                "archive": torchscript_upload(TinyClassifier()),
                "modality": "CT",
                "input_rows": 64,
                "input_columns": 64,
                "normalisation": "window",
                "window_centre": -600,
                "window_width": 1500,
                "output": "classification",
                "labels": "normal, nodule",
            },
        )
    assert response.status_code == 302
    listing = client.get(reverse("labs:uploaded_models")).content.decode()
    assert "My nodule classifier" in listing
    assert 'data-status="valid"' in listing  # validated on the (eager) batch queue
    client.force_login(people["resident"])
    assert client.get(reverse("labs:uploaded_model_create")).status_code == 403


@pytest.mark.django_db
def test_upload_page_shows_why_a_file_was_refused(client, people, media):
    client.force_login(people["educator"])
    response = client.post(
        reverse("labs:uploaded_model_create"),
        {
            "title": "Pickle",
            "archive": SimpleUploadedFile("x.pkl", pickle.dumps([1])),
            "modality": "CT",
            "input_rows": 64,
            "input_columns": 64,
            "normalisation": "minmax",
            "output": "classification",
            "labels": "a, b",
        },
    )
    assert response.status_code == 200
    assert "Arbitrary pickles are refused" in response.content.decode()
    assert not UploadedModel.objects.exists()


@pytest.mark.django_db
def test_a_stored_model_altered_on_disk_is_refused_at_use(people, media):
    model = upload_and_validate(people["educator"], TinyClassifier())
    assert model.status == UploadedModelStatus.VALID, model.validation_message
    stored = model.archive.path
    with open(stored, "wb") as archive:
        archive.write(torchscript_upload(TinyClassifier(classes=2)).read())
    with pytest.raises(WeightsUnavailable, match=r"damaged.*uploader"):
        model_get(model.zoo_key).predict(study_series_load(study_key="ct-small").pixels[0])


class Hookable(torch.nn.Module):
    """A ScriptModule inside a plain module: Grad-CAM's forward hook needs the latter."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


@pytest.mark.django_db
def test_explainers_and_attacks_on_an_upload_match_the_same_network_in_process(people, media):
    """The sandbox computes forward and input gradients itself; the maps and adversarial
    images it yields equal those of the very same TorchScript network run in this process."""
    from zoo.explainers.registry import EXPLAINERS
    from zoo.perturbations import adversarial

    torch.manual_seed(3)
    network = TinyClassifier()
    model = upload_and_validate(people["educator"], network)
    assert model.status == UploadedModelStatus.VALID, model.validation_message
    zoo_model = model_get(model.zoo_key)
    local = torch.jit.load(model.archive.path).eval()
    image = study_series_load(study_key="ct-small").pixels[0]
    with pytest.raises(ZooError, match="Grad-CAM needs a layer with a spatial feature map"):
        EXPLAINERS["grad-cam"].explain(model=zoo_model, image=image)
    segmenter = upload_and_validate(people["educator"], TinySegmenter(), SEGMENTER_SPEC)
    assert segmenter.status == UploadedModelStatus.VALID, segmenter.validation_message
    explained = [(key, zoo_model, local) for key in ("integrated-gradients", "occlusion")] + [
        ("grad-cam", model_get(segmenter.zoo_key), torch.jit.load(segmenter.archive.path))
    ]
    for key, zoo_model_explained, local_explained in explained:
        explainer = EXPLAINERS[key]
        sandboxed = explainer.explain(model=zoo_model_explained, image=image)
        in_process = explainer.explain(
            model=zoo_model_explained, image=image, network=Hookable(local_explained.eval())
        )
        assert sandboxed.target_index == in_process.target_index, key
        assert sandboxed.values.max() > 0, key
        np.testing.assert_allclose(sandboxed.values, in_process.values, atol=1e-4, err_msg=key)

    def to_input(hu):
        return ((hu + 160.0) / 400.0).clamp(0, 1)[..., :64, :64]

    def loss(output):
        return torch.nn.functional.cross_entropy(output, torch.tensor([1]))

    for attack in (adversarial.fgsm, adversarial.pgd):
        results = [
            attack(
                network=candidate,
                image=image[:64, :64],
                loss=loss,
                epsilon=10.0,
                to_network_input=to_input,
            )
            for candidate in (zoo_model.network(), local)
        ]
        assert np.abs(results[0] - image[:64, :64]).max() > 0, attack.__name__
        # Signs of near-zero gradients may flip with float summation order; allow a few.
        agreeing = np.isclose(results[0], results[1], atol=1e-3).mean()
        assert agreeing > 0.99, (attack.__name__, agreeing)
