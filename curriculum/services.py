"""Writes for the curriculum: the demo course the run command loads."""

from __future__ import annotations

from django.db import transaction
from wagtail.models import Page, Site

from curriculum.models import CurriculumIndexPage, CurriculumPage, LessonPage, ModulePage
from labs.models import LabExercise

DEMO_COURSE_SLUG = "imaging-ai-foundations"
DEMO_LESSON_SLUG = "when-noise-breaks-a-model"


def _child_ensure(parent: Page, page_class, *, slug: str, **fields) -> Page:
    """The child with this slug, created (and published) only if it does not exist.

    Existing pages are left as they are so an educator's edits survive re-running the set-up.
    """
    existing = parent.get_children().filter(slug=slug).first()
    if existing is not None:
        return existing.specific
    page = page_class(slug=slug, **fields)
    parent.add_child(instance=page)
    page.save_revision().publish()
    return page


@transaction.atomic
def demo_course_ensure() -> LessonPage:
    """One course, one module, one lesson embedding one break-it lab; idempotent."""
    root = Page.get_first_root_node()
    index = CurriculumIndexPage.objects.first()
    if index is None:
        index = _child_ensure(
            root,
            CurriculumIndexPage,
            slug="courses",
            title="Imaging informatics for radiologists",
            introduction=(
                "<p>Learn where imaging AI fails by making it fail: real models, real "
                "studies, and the physics of every way they break.</p>"
            ),
        )
    site = Site.objects.filter(is_default_site=True).first()
    if site is None:
        Site.objects.create(hostname="localhost", port=80, root_page=index, is_default_site=True)
    elif site.root_page_id != index.pk:
        site.root_page = index
        site.save()
    # Wagtail's migration creates a placeholder "Welcome" page; it is not part of our tree.
    root.get_children().exclude(pk=index.pk).filter(depth=2, slug="home").delete()

    course = _child_ensure(
        index,
        CurriculumPage,
        slug=DEMO_COURSE_SLUG,
        title="Foundations of imaging AI",
        summary="How an AI model reads an image, and what it does when the image changes.",
        introduction="<p>A first course: run a real model on a real CT and break it.</p>",
    )
    module = _child_ensure(
        course,
        ModulePage,
        slug="where-ai-fails",
        title="Where AI fails",
        summary="Noise, artefacts and shortcuts: producing the failure yourself.",
    )
    exercise, _created = LabExercise.objects.get_or_create(
        title="Noise against a tissue segmenter",
        defaults={
            "instructions": (
                "<p>The model labels every pixel of a CT slice as air/lung, fat, soft tissue "
                "or bone. Add noise of increasing standard deviation and watch which "
                "tissue boundaries it loses first. Start at 20 HU, then try 100 and 250.</p>"
            ),
            "model_key": "ct-tissue",
            "study_key": "ct-small",
            "perturbation_key": "gaussian-noise",
            "severity_default": 100.0,
        },
    )
    return _child_ensure(
        module,
        LessonPage,
        slug=DEMO_LESSON_SLUG,
        title="When noise breaks a model",
        summary="Quantum noise, pixel classifiers and why a confident model can be wrong.",
        estimated_minutes=15,
        body=[
            (
                "paragraph",
                "<h2>Noise is physics, not a bug</h2><p>A CT number is an estimate from a "
                "finite count of photons. Halve the dose and the noise standard deviation "
                "grows by about the square root of two. A model trained on routine-dose "
                "images has learned what tissue looks like at one noise level.</p>",
            ),
            ("lab", {"exercise": exercise, "introduction": "Break the model yourself."}),
        ],
    )
