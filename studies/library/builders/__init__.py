"""Study builders: each module here registers one study (or a family of studies).

Importing this package imports every module in it, so that each one's
`study_builder_register(...)` call fills `STUDY_BUILDERS`. Adding a study is adding a module.
"""

import importlib
import pkgutil

from studies.library.study_builder import STUDY_BUILDERS

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["STUDY_BUILDERS"]
