"""Repair image answers stored against the wrong question (issue 17 item 1): one mark saved
as the answer of every image question of an attempt that showed the same series."""

from django.core.management.base import BaseCommand

from assessments.services import responses_shared_marks_repair


class Command(BaseCommand):
    help = (
        "Clear image marks stored against questions they were not placed for, score the "
        "finished attempts again and list the residents to tell."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change; change nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        report = responses_shared_marks_repair(dry_run=dry_run)
        verb = "Would clear" if dry_run else "Cleared"
        self.stdout.write(
            f"{verb} {len(report.cleared)} answer(s) that were another question's mark."
        )
        for response in report.cleared:
            self.stdout.write(
                f"  attempt {response.attempt_id} ({response.attempt.candidate_code})"
                f" Q{response.position + 1}: {response.question.title}"
            )
        self.stdout.write(f"Finished attempts scored again: {len(report.rescored)}.")
        # Each finished attempt's candidate is told in the platform (a MarkCorrection shown on
        # "My grades" and the feedback page once the marks are released).
        for attempt in report.released:
            self.stdout.write(
                f"  released, told on My grades: {attempt.user.get_username()}"
                f" ({attempt.assessment.title}, attempt {attempt.number})"
            )
        if not dry_run:
            self.stdout.write(f"Corrections recorded for candidates: {len(report.notices)}.")
        for shared in report.undecided:
            titles = ", ".join(f"Q{r.position + 1}" for r in shared)
            self.stdout.write(
                f"Undecided (one mark on {titles} of attempt {shared[0].attempt_id}):"
                " an examiner should decide."
            )
