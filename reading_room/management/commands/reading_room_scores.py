"""Compute a score source's cohort scores now, in this process (e.g. while preparing a demo),
so the first resident does not wait for the batch queue. Idempotent: ready scores are kept."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from reading_room import services
from reading_room.score_sources import SOURCES


class Command(BaseCommand):
    help = "Score a cohort with its zoo model once and store the scores for the reading room."

    def add_arguments(self, parser):
        parser.add_argument("--source", default="ct-lesion-held-out", choices=sorted(SOURCES))
        parser.add_argument(
            "--cases", type=int, default=None, help="First N cases (default: the whole cohort)."
        )

    def handle(self, *args, source: str, cases: int | None, **options):
        cases = cases or SOURCES[source].default_cases
        score_set = services.score_set_request(source_key=source, cases=cases)
        if not score_set.is_ready:
            score_set = services.score_set_execute(score_set_pk=score_set.pk) or score_set
            score_set.refresh_from_db()
        if not score_set.is_ready:
            raise CommandError(
                f"Scores are {score_set.get_status_display().lower()}: {score_set.error_message}"
            )
        self.stdout.write(
            f"{score_set}: {score_set.positives} positive, AUC {score_set.auc:.3f}, "
            f"scored in {score_set.seconds:.1f} s."
        )
