from django.apps import AppConfig


class CurriculumConfig(AppConfig):
    name = "curriculum"
    verbose_name = "Curriculum"

    def ready(self):
        # Register this app's access rules (accounts.permissions) at start-up.
        from django.db.models.signals import m2m_changed, post_delete, post_save
        from wagtail.documents import get_document_model
        from wagtail.images import get_image_model
        from wagtail.models import PageViewRestriction, Site
        from wagtail.signals import page_published, page_unpublished, post_page_move

        from curriculum import rules  # noqa: F401
        from curriculum.lesson_frame import lesson_frames_invalidate

        # Cached lesson frames copy titles and URLs of other pages and render images and
        # documents: any change to those makes every frame stale (curriculum.lesson_frame).
        # Sites too: lesson routes keep each host's site and root (curriculum.lesson_routes).
        for signal in (page_published, page_unpublished, post_page_move):
            signal.connect(lesson_frames_invalidate, dispatch_uid=f"lesson-frames-{signal!r}")
        # A frame also records whether any view restriction applies to its lesson: a
        # restriction made, changed or removed (its groups too) makes every frame stale.
        for model in (get_image_model(), get_document_model(), Site, PageViewRestriction):
            for signal in (post_save, post_delete):
                signal.connect(
                    lesson_frames_invalidate,
                    sender=model,
                    dispatch_uid=f"lesson-frames-{model.__name__}-{signal!r}",
                )
        post_delete.connect(
            lesson_frames_invalidate, sender="wagtailcore.Page", dispatch_uid="lesson-frames-del"
        )
        # A lab's form is kept rendered with the lesson's reader parts, and a lesson's
        # exercises and quizzes with its frame (curriculum.lesson_shell, lesson_frame): any
        # snippet a lesson's blocks choose (lab, cohort and other exercises, quizzes),
        # edited or deleted, makes them stale.
        for model in _lesson_snippet_models():
            for signal in (post_save, post_delete):
                signal.connect(
                    lesson_frames_invalidate,
                    sender=model,
                    dispatch_uid=f"lesson-frames-{model._meta.label}-{signal!r}",
                )
        m2m_changed.connect(
            lesson_frames_invalidate,
            sender=PageViewRestriction.groups.through,
            dispatch_uid="lesson-frames-restriction-groups",
        )


def _lesson_snippet_models() -> set:
    """The models of the snippets a lesson's blocks choose (SnippetChooserBlock fields of
    the body's blocks): lab-family exercises, quizzes."""
    from wagtail.blocks import StructBlock
    from wagtail.snippets.blocks import SnippetChooserBlock

    from curriculum.models import LessonPage

    models = set()
    for block in LessonPage._meta.get_field("body").stream_block.child_blocks.values():
        if isinstance(block, StructBlock):
            for child in block.child_blocks.values():
                if isinstance(child, SnippetChooserBlock):
                    models.add(child.target_model)
    return models
