"""A resident's own cohort: labels from a CSV file, and the images of labelled studies.

The CSV has a header row with a `study` column (a StudyInstanceUID, or a library study
key such as "ct-small") and a `label` column (1/0, positive/negative, yes/no, true/false),
and optionally a `patient` column: a pseudonymous key that links studies of one patient,
which the patient-level split keeps together (de-identification empties PatientID, so the
platform cannot link them itself).
It is read whole and checked whole: one bad row and nothing is stored, and every
offending row is listed with its line number, so the resident can fix the file in one go.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from scipy import ndimage

POSITIVE_WORDS = {"1", "positive", "pos", "yes", "y", "true", "abnormal"}
NEGATIVE_WORDS = {"0", "negative", "neg", "no", "n", "false", "normal"}
STUDY_COLUMNS = ("study", "studyinstanceuid", "study_instance_uid", "study_key")
IMAGE_SIZE = 64  # own studies are resized to 64 x 64, like the lesion cohort's patches


@dataclass(frozen=True)
class LabelRowProblem:
    line: int  # line number in the file (the header is line 1)
    value: str  # what the resident wrote in the study column
    problem: str


class LabelFileRefused(Exception):
    """The whole file is unusable (size, encoding, header); the message says why."""


def label_word_parse(word: str) -> int | None:
    word = word.strip().lower()
    if word in POSITIVE_WORDS:
        return 1
    if word in NEGATIVE_WORDS:
        return 0
    return None


def label_csv_parse(
    *, content: bytes, visible_studies: dict[str, object]
) -> tuple[list[tuple[object, int, str]], list[LabelRowProblem]]:
    """(study, label, patient key) rows and the problems found; store the rows only if
    problems is empty.

    `visible_studies` maps both StudyInstanceUIDs and library keys to the studies this
    resident may see: a study they cannot see reads exactly like one that does not exist.
    """
    limit = settings.MODEL_BUILDER_LABEL_CSV_MAX_BYTES
    if len(content) > limit:
        raise LabelFileRefused(
            f"The label file is {len(content) // 1024} KB; the limit is {limit // 1024} KB."
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabelFileRefused(
            "The label file is not UTF-8 text. Save it as CSV (UTF-8)."
        ) from None
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error:
        # The csv module refuses a field over its limit (131072 characters) or a NUL
        # byte; no label file has either, so the whole file is refused with the line.
        raise LabelFileRefused(
            f"The label file cannot be read as CSV at line {reader.line_num}: a field is "
            "far too long or holds a byte that is not text. Each row needs only a study, "
            "a label and optionally a patient key."
        ) from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise LabelFileRefused("The label file is empty.")
    header = [cell.strip().lower() for cell in rows[0]]
    study_column = next((header.index(name) for name in STUDY_COLUMNS if name in header), None)
    if study_column is None or "label" not in header:
        raise LabelFileRefused(
            "The first row must name the columns: 'study' (StudyInstanceUID or study key) "
            f"and 'label'. It reads: {', '.join(rows[0])[:200]}"
        )
    label_column = header.index("label")
    patient_column = header.index("patient") if "patient" in header else None
    if len(rows) - 1 > settings.MODEL_BUILDER_LABEL_CSV_MAX_ROWS:
        raise LabelFileRefused(
            f"The label file has {len(rows) - 1} rows; the limit is "
            f"{settings.MODEL_BUILDER_LABEL_CSV_MAX_ROWS}."
        )
    pairs, problems, seen = [], [], {}
    for line, row in enumerate(rows[1:], start=2):
        value = row[study_column].strip() if study_column < len(row) else ""
        word = row[label_column].strip() if label_column < len(row) else ""
        study = visible_studies.get(value)
        label = label_word_parse(word)
        patient = ""
        if patient_column is not None and patient_column < len(row):
            patient = row[patient_column].strip()
        if len(patient) > 64:
            problems.append(LabelRowProblem(line, value, "The patient key is over 64 characters."))
        if not value:
            problems.append(LabelRowProblem(line, value, "The study column is empty."))
        elif study is None:
            problems.append(
                LabelRowProblem(
                    line, value, "No study you can see has this StudyInstanceUID or key."
                )
            )
        elif study.pk in seen:
            problems.append(
                LabelRowProblem(
                    line, value, f"This study is labelled already on line {seen[study.pk]}."
                )
            )
        if label is None:
            problems.append(
                LabelRowProblem(
                    line,
                    value,
                    f"The label {word[:40]!r} is not one of 1/0, positive/negative, yes/no.",
                )
            )
        if study is not None and label is not None and study.pk not in seen:
            seen[study.pk] = line
            pairs.append((study, label, patient[:64]))
    return pairs, problems


def study_images_load(*, study, max_images: int) -> tuple[np.ndarray, str]:
    """Up to `max_images` slices of the study's first image series, 64 x 64, modality units.

    Slices are taken evenly through the series; each is resized as a whole image (the
    model sees the slice, not a patch).
    """
    import pydicom

    from studies.models import Series
    from studies.selectors import instance_file_path

    series = (
        Series.objects.filter(study=study, instances__rows__isnull=False)
        .exclude(modality__in=["SEG", "SR", "RTSTRUCT", "PR", "KO"])
        .order_by("series_number", "pk")
        .first()
    )
    if series is None:
        raise ValueError(f"Study {study} has no image series.")
    instances = list(series.instances.order_by("instance_number", "pk"))
    chosen = np.unique(
        np.linspace(0, len(instances) - 1, num=min(max_images, len(instances))).round()
    )
    images = []
    for index in chosen.astype(int):
        ds = pydicom.dcmread(instance_file_path(instance=instances[index]))
        frames = ds.pixel_array.astype(np.float32)
        frame = frames if frames.ndim == 2 else frames[frames.shape[0] // 2]
        if frame.ndim != 2:  # colour images are not training material here
            raise ValueError(f"Study {study} is not a greyscale series.")
        frame = frame * float(ds.get("RescaleSlope", 1.0)) + float(ds.get("RescaleIntercept", 0.0))
        zoom = (IMAGE_SIZE / frame.shape[0], IMAGE_SIZE / frame.shape[1])
        images.append(ndimage.zoom(frame, zoom, order=1)[:IMAGE_SIZE, :IMAGE_SIZE])
    return np.stack(images).astype(np.float32), series.modality
