"""Hostile uploaded models: each is refused at upload or contained by the sandbox at run time.

Every hostile model is tried twice: with the upload-time operator check on (refused
there) and off (`ZOO_UPLOAD_GRAPH_CHECK = False`), where the bubblewrap sandbox alone must
contain it through validation and every later inference path (a single-study lab and
cohort sweeps share `ZooModel.predict`; explainers and FGSM/PGD use the network's
gradients). Nothing a model reads or says may reach a page: the secrets planted here are
looked for in every message and on the uploads page.
"""

import numpy as np
import pytest
import torch
from django.urls import reverse

from labs import services
from labs.models import UploadedModel, UploadedModelStatus
from studies.selectors import VALIDATION_SAMPLE_BY_MODALITY, study_series_load
from tests.labs_tests.test_uploaded_models import (
    CLASSIFIER_SPEC,
    Hog,
    Spinner,
    torchscript_upload,
    upload_and_validate,
)
from zoo import sandbox
from zoo.base import ZooError
from zoo.explainers.registry import EXPLAINERS
from zoo.perturbations import adversarial
from zoo.registry import model_get
from zoo.uploaded import UploadSpec, spec_input

SECRET = "PLANTED-SECRET-7f3a9c"
PASSWD_MARKER = "root:x:0:0"


class ReadsFile(torch.nn.Module):
    """torch.from_file on any path; the bytes come back as the 'logits'."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stolen = torch.from_file(self.path, False, 2, dtype=torch.uint8).float()
        return stolen.reshape(1, 2) + x.mean() * 0.0


class WritesFile(torch.nn.Module):
    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.save(x, self.path)
        return x.mean(dim=(2, 3)).repeat(1, 2)


class Giant(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        big = torch.ones(16384, 1024, 1024)  # 64 GiB of float32
        return x.mean(dim=(2, 3)).repeat(1, 2) + big[0, 0, 0]


class Liar(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)).repeat(1, 5)


class NotFinite(torch.nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)).repeat(1, 2) * self.value


class SaysSecret(torch.nn.Module):
    """Raises an error whose text is attacker-chosen (it could carry anything it read)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool(x.sum() > -1.0e30):
            raise RuntimeError("PLANTED-SECRET-7f3a9c root:x:0:0")
        return x.mean(dim=(2, 3)).repeat(1, 2)


class Prints(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        print("PLANTED-SECRET-7f3a9c")
        return x.mean(dim=(2, 3)).repeat(1, 2)


class Sleeper(torch.nn.Module):
    """Behaves on the validation sample (its input mean is baked in), not on anything else."""

    def __init__(self, validation_mean: float, mode: str, path: str = "/etc/passwd"):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.head = torch.nn.Linear(4, 2)
        self.validation_mean = validation_mean
        self.mode = mode
        self.path = path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        good = self.head(self.conv(x).mean(dim=(2, 3)))
        if x.shape[0] == 1 and abs(float(x.mean()) - self.validation_mean) < 1e-6:
            return good
        if self.mode == "nan":
            return good * float("nan")
        if self.mode == "shape":
            return good.repeat(1, 3)
        if self.mode == "spin":
            total = x.sum()
            while bool(total > -1.0e30):
                total = total + 1.0
            return good
        stolen = torch.from_file(self.path, False, 2, dtype=torch.uint8).float()
        return good + stolen.reshape(1, 2)


def _validation_mean(spec: UploadSpec = CLASSIFIER_SPEC) -> float:
    sample = study_series_load(study_key=VALIDATION_SAMPLE_BY_MODALITY[spec.modality])
    return float(spec_input(spec=spec, image_hu=sample.pixels[0]).mean())


@pytest.fixture
def secrets_planted(media, settings):
    """Files a model must not read: a secret in the media tree (beside other uploads), the
    project's settings and database, the host's account list."""
    planted = media / "secret.txt"
    planted.write_text(SECRET * 4)
    from django.db import connection

    return {
        "media secret": str(planted),
        "/etc/passwd": "/etc/passwd",
        "project settings": str(settings.BASE_DIR / "config" / "settings.py"),
        # The database this test runs on (SQLite: the file with the users' password hashes).
        "project database": str(connection.settings_dict["NAME"]),
    }


@pytest.fixture(params=[True, False], ids=["graph-check", "sandbox-only"])
def graph_check(request, settings):
    settings.ZOO_UPLOAD_GRAPH_CHECK = request.param
    return request.param


def assert_nothing_leaked(text: str) -> None:
    assert SECRET not in text
    assert PASSWD_MARKER not in text
    assert "SECRET_KEY" not in text
    assert "SQLite format" not in text
    assert "pbkdf2_" not in text and "argon2" not in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target", ["/etc/passwd", "project database", "media secret", "project settings"]
)
def test_a_model_reading_a_file_is_refused_and_reads_nothing(
    client, people, secrets_planted, graph_check, target
):
    model = upload_and_validate(people["educator"], ReadsFile(secrets_planted[target]))
    assert model.status == UploadedModelStatus.INVALID
    if graph_check:
        assert "aten::from_file" in model.validation_message
    else:
        assert "stopped with an error (its text is not shown)" in model.validation_message
    assert_nothing_leaked(model.validation_message)
    client.force_login(people["educator"])
    assert_nothing_leaked(client.get(reverse("labs:uploaded_models")).content.decode())


@pytest.mark.django_db
def test_a_model_writing_a_file_writes_nothing(people, media, graph_check):
    target = media / "written-by-model.pt"
    model = upload_and_validate(people["educator"], WritesFile(str(target)))
    if graph_check:
        assert model.status == UploadedModelStatus.INVALID
        assert "aten::save" in model.validation_message
    else:
        # The sandbox has no writable path (and the media tree is not in it at all); the
        # write fails, so the model may even pass and run again: still nothing is written.
        if model.status == UploadedModelStatus.VALID:
            model_get(model.zoo_key).predict(study_series_load(study_key="ct-small").pixels[0])
    assert not target.exists()
    assert sorted(path.name for path in media.rglob("*") if path.is_file()) == [
        model.archive.name.rsplit("/", 1)[-1]
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        (Giant(), "memory allowance"),
        (Hog(), "memory allowance"),
        (Spinner(), "did not finish within 3 s"),
        (Liar(), "returned shape (1, 5)"),
        (NotFinite(float("nan")), "NaN or infinite"),
        (NotFinite(float("inf")), "NaN or infinite"),
        (SaysSecret(), "stopped with an error (its text is not shown)"),
    ],
    ids=["giant-allocation", "4-gib", "infinite-loop", "lying-shape", "nan", "inf", "says-secret"],
)
def test_a_misbehaving_model_is_refused_at_validation(people, media, settings, hostile, expected):
    # None of these uses an operator the graph check refuses: the sandbox and the output
    # checks catch them, so they run with the check off.
    settings.ZOO_UPLOAD_GRAPH_CHECK = False
    settings.ZOO_UPLOAD_TIMEOUT_SECONDS = 3 if isinstance(hostile, Spinner) else 20
    model = upload_and_validate(people["educator"], hostile)
    assert model.status == UploadedModelStatus.INVALID
    assert expected in model.validation_message
    assert_nothing_leaked(model.validation_message)


@pytest.mark.django_db
def test_a_printing_model_is_refused_or_prints_nowhere(people, media, graph_check, capfd):
    model = upload_and_validate(people["educator"], Prints())
    if graph_check:
        assert model.status == UploadedModelStatus.INVALID
        assert "prim::Print" in model.validation_message
        return
    assert model.status == UploadedModelStatus.VALID, model.validation_message
    model_get(model.zoo_key).predict(study_series_load(study_key="ct-small").pixels[0])
    captured = capfd.readouterr()
    assert SECRET not in captured.out + captured.err


def _every_inference_path(zoo_model, image: np.ndarray) -> dict[str, object]:
    """Run the upload through each path the labs use; what each raised (or returned)."""
    outcomes: dict[str, object] = {}

    def attempt(name, call):
        try:
            outcomes[name] = call()
        except ZooError as error:
            outcomes[name] = error

    attempt("predict (labs, cohort sweeps)", lambda: zoo_model.predict(image))
    for key, explainer in EXPLAINERS.items():
        attempt(key, lambda explainer=explainer: explainer.explain(model=zoo_model, image=image))
    network = zoo_model.network()

    def to_input(hu: torch.Tensor) -> torch.Tensor:
        return ((hu + 160.0) / 400.0).clamp(0, 1)[..., :64, :64]

    def loss(output):
        return torch.nn.functional.cross_entropy(output, torch.tensor([0]))

    image64 = image[:64, :64]
    attempt(
        "fgsm",
        lambda: adversarial.fgsm(
            network=network, image=image64, loss=loss, epsilon=5.0, to_network_input=to_input
        ),
    )
    attempt(
        "pgd",
        lambda: adversarial.pgd(
            network=network,
            image=image64,
            loss=loss,
            epsilon=5.0,
            steps=3,
            to_network_input=to_input,
        ),
    )
    return outcomes


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("nan", "NaN or infinite"),
        ("shape", "returned shape"),
        ("read", "stopped with an error (its text is not shown)"),
    ],
)
def test_a_model_that_behaves_only_on_the_validation_sample_is_caught_on_every_path(
    people, media, settings, mode, expected
):
    # The operator check would refuse the file-reading sleeper at upload; with it off, the
    # sandbox and the per-inference output checks must hold on their own.
    settings.ZOO_UPLOAD_GRAPH_CHECK = False
    sleeper = Sleeper(_validation_mean(), mode)
    model = upload_and_validate(people["educator"], sleeper)
    assert model.status == UploadedModelStatus.VALID, model.validation_message
    other_study = study_series_load(study_key="ct-small").pixels[0] + 100.0
    outcomes = _every_inference_path(model_get(model.zoo_key), other_study)
    assert set(outcomes) == {"predict (labs, cohort sweeps)", *EXPLAINERS, "fgsm", "pgd"}
    for path, outcome in outcomes.items():
        assert isinstance(outcome, ZooError), f"{path} was not stopped: {outcome!r}"
        assert expected in str(outcome), (path, str(outcome))
        assert_nothing_leaked(str(outcome))


@pytest.mark.django_db
def test_a_sleeper_that_spins_later_is_stopped_by_the_wall_clock(people, media, settings):
    settings.ZOO_UPLOAD_GRAPH_CHECK = False
    settings.ZOO_UPLOAD_TIMEOUT_SECONDS = 20
    model = upload_and_validate(people["educator"], Sleeper(_validation_mean(), "spin"))
    assert model.status == UploadedModelStatus.VALID, model.validation_message
    settings.ZOO_UPLOAD_TIMEOUT_SECONDS = 3
    with pytest.raises(ZooError, match="did not finish within 3 s"):
        model_get(model.zoo_key).predict(study_series_load(study_key="ct-small").pixels[0] + 100.0)


PROBE = """
import json, os, socket
facts = {"uid": os.getuid(), "gid": os.getgid()}
for name, path in [("etc", "/etc/passwd"), ("proc", "/proc/self/environ"),
                   ("project", PROJECT), ("media", MEDIA), ("home", os.path.expanduser("~"))]:
    facts[name] = os.path.exists(path)
for place in ("/", "/tmp", "/dev/shm", "/usr"):
    try:
        open(os.path.join(place, "written-by-probe"), "w").close()
        facts["wrote " + place] = True
    except OSError:
        facts["wrote " + place] = False
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("127.0.0.1", 6379))
    facts["socket"] = "connected"
except OSError as error:
    facts["socket"] = error.errno
print(json.dumps(facts))
"""


def test_the_sandbox_sees_no_project_file_writes_nothing_and_has_no_network(settings, media):
    """What a model's process can do, asked from inside the sandbox with plain Python."""
    import errno
    import json
    import subprocess

    (media / "other-upload.pt").write_bytes(b"another educator's model")
    probe = PROBE.replace("PROJECT", repr(str(settings.BASE_DIR / "config" / "settings.py")))
    probe = probe.replace("MEDIA", repr(str(media / "other-upload.pt")))
    process = sandbox.sandbox_spawn(
        archive=None,
        limits=sandbox.SandboxLimits.from_settings(),
        stdout=subprocess.PIPE,
        probe=probe,
    )
    output, _ = process.communicate(timeout=120)
    facts = json.loads(output)
    assert (facts["uid"], facts["gid"]) == (65534, 65534)
    assert not any(facts[name] for name in ("etc", "proc", "project", "media", "home"))
    assert not any(value for key, value in facts.items() if key.startswith("wrote "))
    # seccomp refuses socket() itself (EPERM); without it, the empty network namespace
    # would refuse the connection.
    assert facts["socket"] in (errno.EPERM, errno.ENETUNREACH, errno.ECONNREFUSED)
    assert not (media / "written-by-probe").exists()


@pytest.fixture
def no_bubblewrap(monkeypatch, tmp_path):
    """A host without bwrap on its PATH (as one without user namespaces, it cannot sandbox)."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    yield
    sandbox._sandbox_problem.cache_clear()


@pytest.mark.django_db
def test_without_the_sandbox_uploads_are_switched_off_and_never_run_in_process(
    client, people, media, settings, no_bubblewrap
):
    settings.ZOO_UPLOAD_GRAPH_CHECK = False
    client.force_login(people["educator"])
    page = client.get(reverse("labs:uploaded_model_create")).content.decode()
    assert "Uploaded models are switched off on this server" in page
    assert "bubblewrap (bwrap) is not installed" in page
    response = client.post(
        reverse("labs:uploaded_model_create"),
        {
            "title": "Would read a file",
            "archive": torchscript_upload(ReadsFile("/etc/passwd")),
            "modality": "CT",
            "input_rows": 64,
            "input_columns": 64,
            "normalisation": "window",
            "output": "classification",
            "labels": "a, b",
        },
    )
    assert response.status_code == 200
    assert "Uploaded models are switched off" in response.content.decode()
    assert not UploadedModel.objects.exists()
    with pytest.raises(services.ModelUploadRefused, match="switched off"):
        services.uploaded_model_create(
            user=people["educator"],
            title="x",
            upload=torchscript_upload(Liar()),
            spec=CLASSIFIER_SPEC,
        )


@pytest.mark.django_db
def test_without_the_sandbox_stored_uploads_neither_validate_nor_run(people, media, no_bubblewrap):
    import hashlib

    from django.core.files.base import ContentFile

    archive = torchscript_upload(ReadsFile("/etc/passwd")).read()
    rows = []
    for status in (UploadedModelStatus.PENDING, UploadedModelStatus.VALID):
        row = UploadedModel(
            title=f"Stored while the sandbox worked ({status})",
            uploaded_by=people["educator"],
            archive_sha256=hashlib.sha256(archive).hexdigest(),
            spec=CLASSIFIER_SPEC.to_json(),
            status=status,
        )
        row.archive.save(f"{status}.pt", ContentFile(archive), save=False)
        row.save()
        rows.append(row)
    pending, valid = rows
    pending = services.uploaded_model_validate(model_pk=pending.pk)
    assert pending.status == UploadedModelStatus.PENDING
    assert "switched off" in pending.validation_message
    with pytest.raises(sandbox.SandboxUnavailable, match="switched off"):
        model_get(valid.zoo_key).predict(study_series_load(study_key="ct-small").pixels[0])
