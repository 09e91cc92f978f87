"""The plug-in interface of the study library: one `StudyBuilder` per sample study.

A builder module in `studies/library/builders/` creates a `StudyBuilder` and registers it
with `study_builder_register`; `STUDY_BUILDERS` is the one registry the pipeline reads.
Adding a study is adding one module.

A builder only turns source files into *raw* DICOM series (`SeriesDraft`): real pixels and
geometry, with whatever identity the source had. The pipeline (studies.library.pipeline)
then de-identifies every instance with one UID map per study, writes the fictitious
identity and the authored values, and stores the files and the manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from studies.deidentify import uid_from_key
from studies.library.identity import FictitiousPatient, LibraryStudyIdentity
from studies.library.source_repairs import retired_attributes_remove
from studies.library.sources import SourceFile


@dataclass
class SeriesDraft:
    """One series, before de-identification.

    `description` becomes Series Description and `curated` (keyword -> value, None to
    delete) is written after de-identification: values we author and know to be free of
    identifying content, e.g. Contrast/Bolus Agent or Burned In Annotation.
    """

    description: str
    datasets: list[Dataset]
    curated: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildInputs:
    """What a builder receives: its source files, located on disk."""

    study_key: str
    files: dict[str, Path]  # path inside the source package -> local file

    def uid(self, *parts: object) -> UID:
        """A reproducible UID for an object the builder creates (series, instance, frame of
        reference); the pipeline's UID map replaces it, deterministically, afterwards."""
        return uid_from_key("artefact-library", self.study_key, *parts)

    def dataset_read(self, source: SourceFile) -> Dataset:
        """The DICOM file `source`, read, with its retired attributes removed."""
        ds = pydicom.dcmread(self.files[source.path])
        retired_attributes_remove(ds)
        return ds


@dataclass(frozen=True)
class StudyBuilder:
    """A sample study of the library and how to build it.

    Bump `version` whenever the output of `series_build` changes, so that existing builds
    are rebuilt rather than skipped.
    """

    key: str
    title: str
    description: str
    modality: str
    version: int
    sources: tuple[SourceFile, ...]
    patient: FictitiousPatient
    study: LibraryStudyIdentity
    series_build: Callable[[BuildInputs], list[SeriesDraft]]


STUDY_BUILDERS: dict[str, StudyBuilder] = {}


def study_builder_register(builder: StudyBuilder) -> StudyBuilder:
    """Add `builder` to the registry; a second builder with the same key is an error."""
    if builder.key in STUDY_BUILDERS:
        raise ValueError(f"A study builder with key {builder.key!r} is already registered.")
    STUDY_BUILDERS[builder.key] = builder
    return builder
