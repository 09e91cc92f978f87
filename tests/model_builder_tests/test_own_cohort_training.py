"""A resident's own cohort end to end: studies uploaded (de-identified on ingest), labels
and patient keys from a CSV file, a patient-level split that keeps linked studies together,
a trained model the registry resolves."""

import io

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from model_builder import services
from model_builder.models import StudyLabel, TrainingRunStatus
from studies.models import Study
from studies.services import study_store_uploaded
from zoo.base import ClassificationOutput
from zoo.registry import model_get

pytestmark = pytest.mark.django_db


def _ct_study_bytes(*, bright_disc: bool, index: int) -> bytes:
    """CT_small as a new study; "positive" studies carry a 40 HU-brighter disc."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PatientID = f"REAL-ID-{index}"
    pixels = ds.pixel_array.astype(np.int32)
    if bright_disc:
        rows, columns = np.ogrid[: pixels.shape[0], : pixels.shape[1]]
        disc = (rows - 64) ** 2 + (columns - 60) ** 2 < 15**2
        pixels[disc] += int(400 / float(ds.RescaleSlope))
    ds.PixelData = pixels.astype(ds.pixel_array.dtype).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_own_cohort_trains_with_linked_patients_kept_together(
    people, demo_lesson, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    course = demo_lesson.get_parent().get_parent()
    positives = [True, True, True, False, False, False]
    outcome = study_store_uploaded(
        files=[_ct_study_bytes(bright_disc=p, index=i) for i, p in enumerate(positives)],
        user=people["educator"],
    )
    assert not outcome.failed, outcome.failed
    studies = list(Study.objects.order_by("pk"))
    assert len(studies) == 6
    for study in studies:
        study.courses.add(course)
        # De-identified on ingest: the real patient IDs are gone.
        assert "REAL-ID" not in study.patient_id
    resident = people["resident"]
    cohort = services.labelled_cohort_create(user=resident, title="Bright discs")
    rows = ["study,label,patient"]
    for index, (study, positive) in enumerate(zip(studies, positives, strict=True)):
        # Studies 0 and 1 are one patient's (the resident knows; the headers no longer do).
        rows.append(f"{study.study_instance_uid},{int(positive)},{'A' if index < 2 else index}")
    stored, problems = services.cohort_labels_import_csv(
        cohort=cohort, user=resident, content="\n".join(rows).encode()
    )
    assert (stored, problems) == (6, [])
    assert StudyLabel.objects.filter(cohort=cohort, patient_key="A").count() == 2

    run = services.training_run_create(
        user=resident,
        title="Disc finder",
        raw_config={
            "cohort": f"cohort-{cohort.pk}",
            "split": "patient",
            "epochs": 2,
            "augmentations": ["flip"],
            "seed": 1,
        },
    )
    done = services.training_run_execute(run_pk=run.pk)
    assert done.status == TrainingRunStatus.SUCCEEDED, done.error_message
    split = done.metrics["split"]
    assert split["modality"] == "CT"
    assert split["train_patients"] + split["test_patients"] == 5
    assert split["patients_on_both_sides"] == 0
    assert split["train_images"] + split["test_images"] == 6
    assert "new_patients" not in done.metrics  # only the lesion cohort has fresh patients

    model = model_get(done.zoo_key)
    output = model.predict(np.full((128, 128), 40.0, dtype=np.float32))
    assert isinstance(output, ClassificationOutput)
    assert output.class_names == ("negative", "positive")
    assert "own labelled studies" in model.card().training_data
