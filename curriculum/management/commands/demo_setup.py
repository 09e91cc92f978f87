"""Load demo content and demo accounts (refused under production settings)."""

import json
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import cohort_ensure, demo_accounts_ensure
from curriculum.demo import deid_demo_lesson_ensure, demo_steps_run
from curriculum.services import curriculum_content_load, demo_course_ensure


class Command(BaseCommand):
    help = "Create the demo course, lab and the four demo accounts; safe to run again."

    def handle(self, *args, **options):
        if not settings.DEMO_SETUP_ALLOWED:
            raise CommandError("The demo set-up is refused under production settings.")
        lesson = demo_course_ensure()
        # The rest of the shipped course; educators' edits survive (see curriculum_load).
        _course, report = curriculum_content_load()
        for label in report.kept_edits:
            self.stdout.write(self.style.WARNING(f"Kept an educator's edit: {label}"))
        accounts = demo_accounts_ensure()
        course = lesson.get_parent().get_parent()
        # The de-identification lab's own lesson (made once; edits survive).
        deid_demo_lesson_ensure(course=course)
        cohort_ensure(
            name="Demo cohort",
            courses=[course],
            members=User.objects.filter(username="resident", is_demo=True),
        )
        from assessments.demo import assessments_demo_ensure

        demo = assessments_demo_ensure(course=course, module=lesson.get_parent().specific)
        for note in demo.notes:
            self.stdout.write(self.style.WARNING(note))
        self.stdout.write(f"Demo quiz and exam: {demo.quiz} · {demo.exam} (under /assess/)")
        # Steps of apps above the curriculum (grading's marking demo), registered at start-up.
        for line in demo_steps_run(course=course, exam=demo.exam, quiz=demo.quiz):
            self.stdout.write(line)
        credentials = self._credentials_remember(accounts)
        self.stdout.write(self.style.SUCCESS(f"Demo lesson: {lesson.url}"))
        self.stdout.write("Demo accounts (username / password / role):")
        for account in accounts:
            password = credentials.get(account.username, "(set earlier; see var/)")
            self.stdout.write(f"  {account.username:10} {password:16} {account.role.label}")

    def _credentials_remember(self, accounts) -> dict[str, str]:
        """Keep generated passwords in a private file so a second run can print them again."""
        path = settings.VAR_DIR / "demo-credentials.json"
        known = json.loads(path.read_text()) if path.exists() else {}
        known.update({a.username: a.password for a in accounts if a.created})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known, indent=2))
        os.chmod(path, 0o600)
        return known
