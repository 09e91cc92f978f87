"""Export the question bank as an IMS QTI 2.1 content package, or import one (all or none)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from assessments.qti.reader import MAX_UPLOAD_BYTES
from assessments.selectors import question_bank_qti_package
from assessments.services import question_bank_import


class Command(BaseCommand):
    help = (
        "export PATH: write the bank (or --pool) as a QTI 2.1 zip, answer keys included. "
        "import PATH: create a question for every item of a QTI 2.1 zip, or none and list why."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=("export", "import"))
        parser.add_argument("path", type=Path)
        parser.add_argument("--pool", default="", help="Export only this pool's questions.")

    def handle(self, *args, action: str, path: Path, pool: str = "", **options):
        if action == "export":
            package = question_bank_qti_package(pool=pool)
            path.write_bytes(package.content)
            self.stdout.write(f"Wrote {package.item_count} item(s) to {path}.")
            for title, why in package.left_out:
                self.stdout.write(f"  left out: {title}: {why}")
            return
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise CommandError(f"{path} is larger than {MAX_UPLOAD_BYTES // 2**20} MB.")
        report = question_bank_import(package=path.read_bytes())
        if report.refused:
            raise CommandError(f"Refused, nothing imported: {report.refused}")
        if report.problems:
            for problem in report.problems:
                self.stderr.write(f"  {problem.source} {problem.title}: {problem.message}")
            raise CommandError(
                f"{len(report.problems)} item(s) cannot be imported; nothing was imported."
            )
        self.stdout.write(f"Imported {len(report.created)} question(s).")
        for question in report.created:
            self.stdout.write(f"  {question.pk}: {question.title} ({question.kind})")
