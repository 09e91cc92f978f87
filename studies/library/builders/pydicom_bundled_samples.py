"""Single-slice CT and MR studies from the test files bundled with pydicom itself.

CT_small is a 128 x 128 axial CT slice through the thorax (vertebra, aorta, lungs); MR_small
a 64 x 64 MR slice. They are small enough for fast unit tests and quick labs.
"""

from __future__ import annotations

import datetime as dt

from studies.library.identity import FictitiousPatient, LibraryStudyIdentity
from studies.library.source_repairs import empty_laterality_remove_for_unpaired_part
from studies.library.sources import PYDICOM_BUNDLED, SourceFile
from studies.library.study_builder import (
    BuildInputs,
    SeriesDraft,
    StudyBuilder,
    study_builder_register,
)

CT_SMALL_FILE = SourceFile(source=PYDICOM_BUNDLED, path="CT_small.dcm")
MR_SMALL_FILE = SourceFile(source=PYDICOM_BUNDLED, path="MR_small.dcm")


def ct_small_series_build(inputs: BuildInputs) -> list[SeriesDraft]:
    ds = inputs.dataset_read(CT_SMALL_FILE)
    empty_laterality_remove_for_unpaired_part(ds, body_part_examined="CHEST")
    return [
        SeriesDraft(
            description="Axial 5 mm",
            datasets=[ds],
            # The agent name is not identifying; the Basic Profile (Z/D) would overwrite it.
            curated={"ContrastBolusAgent": "ISOVUE300/100"},
        )
    ]


def mr_small_series_build(inputs: BuildInputs) -> list[SeriesDraft]:
    ds = inputs.dataset_read(MR_SMALL_FILE)
    # ImageType says SECONDARY, which would quarantine the image as a possible screen
    # capture; the 64 x 64 pixels were reviewed and hold no text.
    ds.BurnedInAnnotation = "NO"
    # Body part unknown: Laterality stays present and empty ("unknown", PS3.3 C.7.3.1).
    return [SeriesDraft(description="MR slice 64 x 64", datasets=[ds])]


study_builder_register(
    StudyBuilder(
        key="ct-small",
        title="Axial CT slice, 128 x 128 (pydicom CT_small)",
        description=(
            "One real contrast CT slice through the thorax (vertebral body, aorta, lung "
            "bases), 128 x 128 at 0.66 mm, values in HU; bundled with pydicom."
        ),
        modality="CT",
        version=1,
        sources=(CT_SMALL_FILE,),
        patient=FictitiousPatient(
            name="Artefact^Finn", patient_id="ART-0006", birth_date=dt.date(1958, 1, 8), sex="O"
        ),
        study=LibraryStudyIdentity(
            accession_number="ACC-0006",
            study_id="S0006",
            study_date=dt.date(2024, 4, 9),
            study_time="152000",
            study_description="CT chest, single slice",
        ),
        series_build=ct_small_series_build,
    )
)

study_builder_register(
    StudyBuilder(
        key="mr-small",
        title="MR slice, 64 x 64 (pydicom MR_small)",
        description="One real 64 x 64 spin-echo MR slice at 0.31 mm; bundled with pydicom.",
        modality="MR",
        version=1,
        sources=(MR_SMALL_FILE,),
        patient=FictitiousPatient(
            name="Artefact^Greta", patient_id="ART-0007", birth_date=dt.date(1983, 5, 19), sex="F"
        ),
        study=LibraryStudyIdentity(
            accession_number="ACC-0007",
            study_id="S0007",
            study_date=dt.date(2024, 4, 16),
            study_time="100500",
            study_description="MR single slice",
        ),
        series_build=mr_small_series_build,
    )
)
