"""The demo set-up's content that spans apps: the de-identification lab's demo lesson, and
the steps that apps above the curriculum add to `manage.py demo_setup` (grading registers its
demo at start-up, so the curriculum never imports it).
"""

from __future__ import annotations

from collections.abc import Callable

from curriculum.models import LessonPage, ModulePage
from deid_lab.services import deid_demo_exercise_ensure

# --- Steps of the demo set-up registered by apps above the curriculum ------------------------

# A step gets the demo course and its quiz and exam (assessments.demo) and returns a line for
# the set-up to print.
DemoStep = Callable[..., str]
_DEMO_STEPS: list[DemoStep] = []


def demo_step_register(step: DemoStep) -> None:
    """Add a step to the demo set-up, run after the assessments' demo; once per step."""
    if step not in _DEMO_STEPS:
        _DEMO_STEPS.append(step)


def demo_steps_run(*, course, exam, quiz) -> list[str]:
    """Run the registered steps in order; each is idempotent. Returns their lines."""
    return [step(course=course, exam=exam, quiz=quiz) for step in _DEMO_STEPS]


# --- The de-identification lab's demo lesson ------------------------------------------------

DEMO_LESSON_SLUG = "deidentification-lab"
DEMO_MODULE_SLUGS = ("data-protection-gdpr-deidentification", "where-ai-fails")


def deid_demo_lesson_ensure(*, course):
    """A lesson embedding the demo exercise in the course's data-protection module.

    Made once (by slug) and left alone afterwards, so an educator's edits survive; the
    content loader never touches it because no content file names it. Returns None when the
    course has none of the modules it can go in.
    """
    modules = {page.slug: page for page in ModulePage.objects.child_of(course)}
    module = next((modules[s] for s in DEMO_MODULE_SLUGS if s in modules), None)
    if module is None:
        return None
    existing = LessonPage.objects.child_of(module).filter(slug=DEMO_LESSON_SLUG).first()
    if existing is not None:
        return existing
    exercise = deid_demo_exercise_ensure()
    lesson = LessonPage(
        slug=DEMO_LESSON_SLUG,
        title="De-identification lab: find what leaks",
        summary="Find the PHI in a CT header and its pixels, choose PS3.15 options, verify.",
        estimated_minutes=20,
        body=[
            {
                "type": "paragraph",
                "value": "<p>Headers, private tags, sequence items and burned-in text: "
                "identity hides in all of them. This lab plants it everywhere in a real CT "
                "slice and checks your de-identification afterwards.</p>",
            },
            {"type": "deid", "value": {"exercise": exercise.pk, "introduction": ""}},
        ],
    )
    module.add_child(instance=lesson)
    lesson.save_revision().publish()
    return lesson
