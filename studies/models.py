"""The study index: Study / Series / Instance rows that describe DICOM files in the library.

The DICOM file is the truth; these rows are an index that `studies.services` rebuilds from
the files at any time (`library_index_rebuild`). They hold what QIDO-RS matches and returns
(PS3.18 §10.6, Tables 10.6.3-3..5), where each file lies (relative to the library root,
`studies.selectors.library_root()`), where its pixel data starts (so that WADO-RS frames are
a seek and a read), what de-identification did, and who may see the study.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

UID_MAX_LENGTH = 64  # PS3.5 §9.1


class StudyOrigin(models.TextChoices):
    LIBRARY = "library", _("Sample library (built from registry packages)")
    STOW = "stow", _("Uploaded with STOW-RS")
    IMPORT = "import", _("Imported from a remote DICOMweb server")


# Studies are made visible to courses: Curriculum pages of the curriculum app, a layer above
# studies, so the model is named here and looked up, never imported.
COURSE_PAGE_MODEL = "curriculum.CurriculumPage"


def course_page_model() -> type[models.Model]:
    """The page model whose residents a study can be made visible to."""
    from django.apps import apps

    return apps.get_model(COURSE_PAGE_MODEL)


class Study(models.Model):
    study_instance_uid = models.CharField(max_length=UID_MAX_LENGTH, unique=True)
    # The library key (e.g. "ct-small") for studies the library builder made; empty otherwise.
    key = models.CharField(max_length=64, blank=True, default="", db_index=True)
    title = models.CharField(max_length=200, blank=True, default="")
    patient_name = models.CharField(max_length=324, blank=True, default="", db_index=True)
    patient_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    patient_birth_date = models.CharField(max_length=8, blank=True, default="")
    patient_sex = models.CharField(max_length=16, blank=True, default="")
    study_date = models.DateField(null=True, blank=True, db_index=True)
    study_time = models.CharField(max_length=32, blank=True, default="")
    accession_number = models.CharField(max_length=16, blank=True, default="", db_index=True)
    study_id = models.CharField(max_length=16, blank=True, default="")
    study_description = models.CharField(max_length=64, blank=True, default="")
    referring_physician_name = models.CharField(max_length=324, blank=True, default="")
    # Backslash-separated, sorted (PS3.5 value multiplicity), e.g. "CT\SEG".
    modalities_in_study = models.CharField(max_length=200, blank=True, default="")
    number_of_series = models.PositiveIntegerField(default=0)
    number_of_instances = models.PositiveIntegerField(default=0)

    origin = models.CharField(max_length=16, choices=StudyOrigin.choices)
    source = models.TextField(blank=True, default="", help_text=_("Where the images came from."))
    licence = models.CharField(max_length=200, blank=True, default="")
    # The union of the PS3.15 de-identification reports: removed / emptied / replaced / kept.
    deidentification_report = models.JSONField(default=dict, blank=True)
    is_quarantined = models.BooleanField(
        default=False,
        help_text=_("Possible burned-in annotation: hidden from residents until reviewed."),
    )
    quarantine_reasons = models.JSONField(default=list, blank=True)
    # A person looked at the pixels and found no burned-in identifying text: published.
    quarantine_released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    quarantine_released_at = models.DateTimeField(null=True, blank=True)
    courses = models.ManyToManyField(
        "wagtailcore.Page",
        related_name="visible_studies",
        blank=True,
        help_text=_("Curriculum pages whose residents may see this study."),
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    indexed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("study_date", "study_instance_uid")
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.title or self.study_description or self.study_instance_uid


class Series(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(max_length=UID_MAX_LENGTH, unique=True)
    modality = models.CharField(max_length=16, blank=True, default="", db_index=True)
    series_number = models.IntegerField(null=True, blank=True)
    series_description = models.CharField(max_length=64, blank=True, default="")
    body_part_examined = models.CharField(max_length=16, blank=True, default="")
    number_of_instances = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("series_number", "series_instance_uid")
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return f"{self.modality} {self.series_number}: {self.series_description}"


class Instance(models.Model):
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField(max_length=UID_MAX_LENGTH, unique=True)
    sop_class_uid = models.CharField(max_length=UID_MAX_LENGTH)
    instance_number = models.IntegerField(null=True, blank=True)
    transfer_syntax_uid = models.CharField(max_length=UID_MAX_LENGTH)
    rows = models.PositiveIntegerField(null=True, blank=True)
    columns = models.PositiveIntegerField(null=True, blank=True)
    number_of_frames = models.PositiveIntegerField(default=0)
    # Whether the file itself carries Number of Frames: single-frame IODs have no such
    # attribute, and a search must not report one the object does not have.
    declares_number_of_frames = models.BooleanField(default=False)
    samples_per_pixel = models.PositiveIntegerField(null=True, blank=True)
    bits_allocated = models.PositiveIntegerField(null=True, blank=True)
    photometric_interpretation = models.CharField(max_length=16, blank=True, default="")
    # Relative to the library root, POSIX separators; never absolute, never "..".
    file_path = models.CharField(max_length=500)
    file_size = models.BigIntegerField()
    # Byte offset and length of the Pixel Data value in the file; length -1 when it is
    # encapsulated (undefined length, PS3.5 §A.4); offset null when there are no pixels.
    pixel_data_offset = models.BigIntegerField(null=True, blank=True)
    pixel_data_length = models.BigIntegerField(null=True, blank=True)
    burned_in_annotation_reasons = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("instance_number", "sop_instance_uid")

    def __str__(self) -> str:
        return self.sop_instance_uid
