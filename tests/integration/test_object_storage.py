"""Every kept file through S3: a real SeaweedFS server, a real worker, the web reading back.

The web (this test process) and the worker are given different MEDIA_ROOTs and caches, so
the only way the worker can read the study and the web the outputs is the object store.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from pydicom.data import get_testdata_file

from labs import services
from labs.models import LabRun, LabRunStatus
from runs.files import cache_root, local_path
from studies.models import Study
from studies.services import study_store_uploaded
from tests.integration.s3_support import bucket_keys as _keys
from tests.integration.s3_support import s3_worker_env
from tests.labs_tests.lab_support import exercise_make, lesson_embed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_study_stored_in_s3_runs_a_lab_on_a_worker_and_the_web_reads_its_outputs(
    s3_bucket, worker_env, tmp_path, demo_lesson, people, client
):
    from config.celery import app as celery_app
    from config.localservices import worker_start, worker_wait_ready

    # 1. An educator stores a study (de-identified on the way in): it lands in the bucket.
    outcome = study_store_uploaded(
        files=[Path(get_testdata_file("CT_small.dcm")).read_bytes()], user=people["educator"]
    )
    assert len(outcome.stored) == 1, outcome.failed
    study = Study.objects.get(study_instance_uid=outcome.stored[0].study_instance_uid)
    instance = study.series.get().instances.get()
    stored_name = f"library/{instance.file_path}"
    assert stored_name in _keys(s3_bucket)
    # The library names studies for labs by key (a manifest's key for built studies).
    Study.objects.filter(pk=study.pk).update(key="s3-ct")
    # The web's own copies go: from here on, anything read comes from the bucket.
    shutil.rmtree(cache_root(), ignore_errors=True)

    # 2. A worker that shares nothing with the web but the database, broker and bucket.
    worker_media = tmp_path / "worker-media"
    worker_cache = tmp_path / "worker-cache"
    env = {
        **worker_env,
        "MEDIA_ROOT": str(worker_media),
        "FILE_CACHE_DIR": str(worker_cache),
        **s3_worker_env(s3_bucket),
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = worker_start(env=env, stdout=log, stderr=log)
    try:
        worker_wait_ready(celery_app)
        exercise = exercise_make(title="Noise on a stored CT", study_key="s3-ct")
        lesson_embed(demo_lesson, exercise)
        run = services.lab_run_create(user=people["resident"], exercise=exercise, severity=120)
        deadline = time.monotonic() + 60
        while LabRun.objects.get(pk=run.pk).status not in {"succeeded", "failed"}:
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        worker.stop()
    run = LabRun.objects.get(pk=run.pk)
    assert run.status == LabRunStatus.SUCCEEDED, (run.error_message, log_path.read_text()[-3000:])

    # The worker read the study through its own cache, and wrote nothing to its disk.
    assert (worker_cache / "objects" / stored_name).is_file()
    assert not (worker_media / "lab-runs").exists()
    # The outputs are objects in the bucket...
    keys = _keys(s3_bucket)
    outputs = {k for k in keys if k.startswith(f"lab-runs/{run.pk}/")}
    assert run.original_overlay.name in keys
    assert outputs, keys
    # ...and the resident's browser gets them from the web, which holds no local copy.
    client.force_login(people["resident"])
    picture = client.get(reverse("labs:run_output", args=[run.pk, "original_overlay"]))
    assert picture.status_code == 200
    body = b"".join(picture.streaming_content)
    assert body[:4] == b"\x89PNG"
    stored = s3_bucket.get_object(Bucket=s3_bucket.bucket, Key=run.original_overlay.name)
    assert body == stored["Body"].read()
    derived = next(name for name in run.outputs if name.endswith(".dcm"))
    dicom = client.get(reverse("labs:run_file", args=[run.pk, derived]))
    assert dicom.status_code == 200
    assert b"DICM" in b"".join(dicom.streaming_content)[:200]
    # The web, asked for the study's file for a DICOMweb answer, fetches it back to its cache.
    assert not (cache_root() / "objects" / stored_name).exists()
    assert local_path(stored_name, size=instance.file_size).read_bytes()[128:132] == b"DICM"
    assert default_storage.exists(stored_name)


@pytest.mark.django_db  # no database work: the closest mark wins over the module's
def test_the_local_cache_keeps_within_its_bound_dropping_the_least_recently_used(
    s3_bucket, settings
):
    from django.core.files.base import ContentFile

    settings.FILE_CACHE_MAX_BYTES = 2500
    settings.FILE_CACHE_MIN_AGE_SECONDS = 0
    for name in ("a", "b", "c"):
        default_storage.save(f"cache-test/{name}.bin", ContentFile(bytes([ord(name)]) * 1000))
    first = local_path("cache-test/a.bin")
    local_path("cache-test/b.bin")
    old = time.time() - 60
    os.utime(first, (old, old))  # "a" was used longest ago
    os.utime(cache_root() / "objects/cache-test/b.bin", (old + 1, old + 1))
    third = local_path("cache-test/c.bin")
    cached = sorted(p.name for p in (cache_root() / "objects/cache-test").iterdir())
    assert cached == ["b.bin", "c.bin"]  # 3000 bytes would pass the 2500 bound: "a" went
    assert third.read_bytes() == b"c" * 1000
    # A dropped file is fetched again on demand, with the same bytes.
    assert local_path("cache-test/a.bin").read_bytes() == b"a" * 1000


@pytest.mark.django_db
def test_a_training_checkpoint_written_on_one_host_resumes_on_another(
    s3_bucket, settings, tmp_path, people
):
    """Each epoch's checkpoint is published; a later attempt on a host with an empty
    cache starts from it; removing the run's files removes the stored checkpoint too."""
    import torch

    from model_builder import services as builder
    from model_builder.models import TrainingRun
    from runs.files import scratch_dir

    run = TrainingRun.objects.create(user=people["resident"], title="Resumed", config={})
    run.work_dir = f"training-runs/{run.pk}"
    run.checkpoint_path = f"{run.work_dir}/checkpoint.pt"
    first_host = scratch_dir(run.work_dir)
    torch.save({"epoch": 3, "weights": torch.arange(6.0)}, first_host / "checkpoint.pt")
    builder._checkpoint_publish(run=run, work_dir=first_host)
    assert run.checkpoint_path in _keys(s3_bucket)

    settings.FILE_CACHE_DIR = tmp_path / "second-host-cache"
    second_host = scratch_dir(run.work_dir)
    assert second_host != first_host and not (second_host / "checkpoint.pt").exists()
    builder._checkpoint_fetch(run=run, work_dir=second_host)
    state = torch.load(second_host / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 3 and state["weights"].tolist() == [0, 1, 2, 3, 4, 5]

    builder.training_run_files_remove(run=run)
    assert run.checkpoint_path not in _keys(s3_bucket)
    assert not second_host.exists()
