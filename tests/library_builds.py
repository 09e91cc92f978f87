"""Study library builds for test fixtures, each study built once per test run.

Several fixtures need the same studies (the chest CT alone serves the labs, the
assessments and the viewer), and under pytest-xdist every worker process runs its own
session fixtures. Each study is therefore built once into a store that all workers of the
run share: the first process that needs it builds it under a file lock, the others wait
and reuse it. A fixture gets a library root of its own holding hard links to the store,
so what a test adds to its root stays out of the others'.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from filelock import FileLock


def _store(tmp_path_factory) -> Path:
    """The run's study store: beside the workers' own temporary roots under xdist."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    store = base / "study-store"
    store.mkdir(exist_ok=True)
    return store


def library_with(tmp_path_factory, keys: list[str], *, name: str, progress=None) -> Path:
    """A new library root (under the test run's temporary directory) holding `keys`."""
    from studies.library.pipeline import library_build
    from studies.library.sources import DEFAULT_CACHE_DIR

    store = _store(tmp_path_factory)
    root = tmp_path_factory.mktemp(name)
    for key in keys:
        built_marker = store / f"{key}.built"
        with FileLock(store / f"{key}.lock"):
            if not built_marker.exists():
                library_build(
                    out_dir=store,
                    cache_dir=DEFAULT_CACHE_DIR,
                    only=[key],
                    progress=progress or (lambda _: None),
                )
                built_marker.touch()
        shutil.copytree(store / key, root / key, copy_function=os.link)
    return root
