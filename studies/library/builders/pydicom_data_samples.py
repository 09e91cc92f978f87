"""Single-image studies from the pydicom-data 1.0.0 wheel: a PA chest CR and an ultrasound.

Both come from the uncompressed originals (*_UNCR.dcm), not the lossy JPEG 2000 variants.
The CR keeps MONOCHROME1 (white = low signal) untouched: displaying it correctly is part
of what residents learn. The ultrasound has the institution name and a time burned into
the pixels, so de-identification quarantines it for review: the teaching point of the case.
"""

from __future__ import annotations

import datetime as dt

from studies.library.identity import FictitiousPatient, LibraryStudyIdentity
from studies.library.source_repairs import zero_values_remove
from studies.library.sources import PYDICOM_DATA, SourceFile
from studies.library.study_builder import (
    BuildInputs,
    SeriesDraft,
    StudyBuilder,
    study_builder_register,
)

CHEST_CR_FILE = SourceFile(source=PYDICOM_DATA, path="data_store/data/RG1_UNCR.dcm")
ULTRASOUND_FILE = SourceFile(source=PYDICOM_DATA, path="data_store/data/US1_UNCR.dcm")


def chest_cr_series_build(inputs: BuildInputs) -> list[SeriesDraft]:
    ds = inputs.dataset_read(CHEST_CR_FILE)
    # The source writes Pixel Spacing 0\0 and Sensitivity 0 for "unknown".
    zero_values_remove(ds, keywords=("PixelSpacing", "Sensitivity"))
    return [SeriesDraft(description="Chest PA", datasets=[ds])]


def ultrasound_series_build(inputs: BuildInputs) -> list[SeriesDraft]:
    ds = inputs.dataset_read(ULTRASOUND_FILE)
    # Body part unknown: Laterality (Type 2C) present and empty means "unknown" (PS3.3
    # C.7.3.1), which is the truth here.
    ds.Laterality = None
    return [
        SeriesDraft(
            description="Lymph node, power Doppler",
            datasets=[ds],
            # Seen in the pixels: institution name, time and scanner settings.
            curated={"BurnedInAnnotation": "YES"},
        )
    ]


study_builder_register(
    StudyBuilder(
        key="chest-cr",
        title="PA chest radiograph (computed radiography, MONOCHROME1)",
        description=(
            "A real PA chest CR, 1841 x 1955, 15-bit, stored as MONOCHROME1 (high values "
            "display dark), from pydicom-data 1.0.0 (RG1_UNCR). No pixel spacing is recorded."
        ),
        modality="CR",
        version=1,
        sources=(CHEST_CR_FILE,),
        patient=FictitiousPatient(
            name="Artefact^Dora", patient_id="ART-0004", birth_date=dt.date(1969, 2, 17), sex="F"
        ),
        study=LibraryStudyIdentity(
            accession_number="ACC-0004",
            study_id="S0004",
            study_date=dt.date(2024, 3, 25),
            study_time="081000",
            study_description="Chest radiograph PA",
        ),
        series_build=chest_cr_series_build,
    )
)

study_builder_register(
    StudyBuilder(
        key="us-lymph-node",
        title="Ultrasound of a lymph node with burned-in annotation (quarantined)",
        description=(
            "A real RGB ultrasound image (640 x 480, power Doppler of a lymph node) from "
            "pydicom-data 1.0.0 (US1_UNCR). The institution name, a time and scanner "
            "settings are burned into the pixels, which header de-identification cannot "
            "remove: the study is quarantined for review."
        ),
        modality="US",
        version=1,
        sources=(ULTRASOUND_FILE,),
        patient=FictitiousPatient(
            name="Artefact^Emil", patient_id="ART-0005", birth_date=dt.date(1978, 6, 30), sex="M"
        ),
        study=LibraryStudyIdentity(
            accession_number="ACC-0005",
            study_id="S0005",
            study_date=dt.date(2024, 4, 2),
            study_time="113000",
            study_description="US neck lymph node",
        ),
        series_build=ultrasound_series_build,
    )
)
