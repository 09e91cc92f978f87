"""Load the shipped course from content/ into Wagtail; safe to run again.

Pages an educator changed since the last load are left alone and listed.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curriculum.content import CONTENT_DIR, ContentError
from curriculum.services import curriculum_content_load
from curriculum.translation import curriculum_translations_load


class Command(BaseCommand):
    help = "Load the course in content/ into Wagtail without overwriting educators' edits."

    def add_arguments(self, parser):
        parser.add_argument("--content-dir", type=Path, default=CONTENT_DIR)

    def handle(self, *args, content_dir: Path, **options):
        try:
            course, report = curriculum_content_load(content_dir=content_dir)
            translations = curriculum_translations_load(content_dir=content_dir)
        except ContentError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{course.title}: {len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged."
        )
        if translations.written:
            self.stdout.write(f"Translations written: {len(translations.written)} pages.")
        for label in report.kept_edits:
            self.stdout.write(
                self.style.WARNING(f"  kept an educator's edit (file not applied): {label}")
            )
