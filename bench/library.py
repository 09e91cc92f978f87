"""Study library build: a first build of some studies into an empty folder against a second
build of the same folder, which must skip every study (nothing rewritten).

The ratio second/first is the number to watch (same run, same machine); a second build
reads manifests and checks files, so it should be a small fraction of the first. The suite
checks only that the second build skips everything and rewrites nothing.

    .venv/bin/python bench/library.py [--only chest-ct chest-cr]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import load_average, verdict  # noqa: E402

# Goal: a second build of an unchanged library costs a small fraction of the first.
GOAL_RATIO = 0.1
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["chest-ct", "chest-cr"])
    arguments = parser.parse_args()

    import django

    django.setup()
    from studies.library.pipeline import library_build
    from studies.library.sources import DEFAULT_CACHE_DIR

    with tempfile.TemporaryDirectory(prefix="bench-library-") as folder:
        out_dir = Path(folder)
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            built = library_build(
                out_dir=out_dir,
                cache_dir=DEFAULT_CACHE_DIR,
                only=arguments.only,
                progress=lambda _: None,
            )
            timings.append(time.perf_counter() - started)
        skipped = sum(study.skipped for study in built)
    first, second = timings
    print(f"first build  {first:8.2f} s   ({len(arguments.only)} studies)")
    print(f"second build {second:8.2f} s   ({skipped} skipped)   x{second / first:.3f} first")
    print(
        verdict(
            f"second build <= {GOAL_RATIO:g}x the first, every study skipped",
            second / first <= GOAL_RATIO and skipped == len(arguments.only),
            f"x{second / first:.3f}, {skipped} skipped; load average {load_average()}",
        )
    )


if __name__ == "__main__":
    main()
