"""`manage.py library_load`: build the sample library into the library root and index it.

Both steps are idempotent: an up-to-date study is not rebuilt (studies.library.pipeline),
and indexing re-reads the files and leaves the index equal to them.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand

from studies.library.pipeline import library_build
from studies.library.sources import DEFAULT_CACHE_DIR
from studies.selectors import library_root
from studies.services import library_index_rebuild


class Command(BaseCommand):
    help = "Build the sample study library (cached, checksum-verified) and index it."

    def add_arguments(self, parser):
        parser.add_argument("--only", nargs="+", metavar="KEY", help="build only these studies")
        parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE_DIR)
        parser.add_argument(
            "--index-only", action="store_true", help="re-index the files without building"
        )

    def handle(self, *args, only=None, cache=DEFAULT_CACHE_DIR, index_only=False, **options):
        root = library_root()
        started = time.monotonic()
        if not index_only:
            built = library_build(
                out_dir=root,
                cache_dir=cache,
                only=only,
                progress=lambda message: self.stdout.write(message),
            )
            self.stdout.write(f"{len(built)} studies built or kept in {root}")
        studies = library_index_rebuild(root=root)
        instances = sum(study.number_of_instances for study in studies)
        quarantined = sum(study.is_quarantined for study in studies)
        self.stdout.write(
            self.style.SUCCESS(
                f"indexed {len(studies)} studies, {instances} instances "
                f"({quarantined} quarantined) in {time.monotonic() - started:.1f} s"
            )
        )
