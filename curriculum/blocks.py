"""StreamField blocks shared by curriculum pages. Each renders through blocks/<name>.html.

The DICOM viewer block lives with the study library (studies.blocks) and is offered here;
the quiz block (assessments) joins `LessonBodyBlock` with its own issue; a lesson's
completion rule in `curriculum.selectors.lesson_ids_completed` is where "quiz passed" will
join "lab succeeded".
There is deliberately no raw-HTML block: authored HTML only enters through Wagtail's rich
text features, which the editor's whitelist sanitises.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.images.blocks import ImageChooserBlock
from wagtail.snippets.blocks import SnippetChooserBlock

from assessments.blocks import QuizBlock
from deid_lab.blocks import DeidBlock
from evaluation.blocks import CohortLabBlock
from model_builder.blocks import ModelBuilderBlock
from reader_study.blocks import ReaderStudyBlock
from reading_room.blocks import ReadingRoomBlock
from studies.blocks import ViewerBlock

PROSE_FEATURES = [
    "h2",
    "h3",
    "bold",
    "italic",
    "ol",
    "ul",
    "link",
    "hr",
    "superscript",
    "subscript",
]
INLINE_FEATURES = ["bold", "italic", "link", "ol", "ul"]
VIDEO_EXTENSIONS = frozenset({"mp4", "webm"})
# A DOI is "10.<registrant>/<suffix>" (ISO 26324); the suffix may contain almost anything.
DOI_PATTERN = re.compile(r"^10\.\d{4,9}/\S+$")


class LabBlock(blocks.StructBlock):
    """Embeds a hands-on lab (a LabExercise snippet) in a lesson."""

    exercise = SnippetChooserBlock("labs.LabExercise")
    introduction = blocks.TextBlock(
        required=False, help_text=_("One or two sentences shown above the lab.")
    )

    class Meta:
        icon = "cogs"
        label = _("Lab")
        template = "blocks/lab_block.html"


class FigureBlock(blocks.StructBlock):
    """An image with a caption and mandatory alternative text (WCAG 2.1, 1.1.1)."""

    image = ImageChooserBlock()
    alt_text = blocks.CharBlock(
        max_length=250,
        help_text=_("What the image shows, for readers who cannot see it. Required."),
    )
    caption = blocks.TextBlock(required=False)
    credit = blocks.CharBlock(required=False, max_length=250)

    class Meta:
        icon = "image"
        label = _("Figure")
        template = "blocks/figure_block.html"


CALLOUT_KINDS = [
    ("pitfall", _("Pitfall")),
    ("key_point", _("Key point")),
    ("clinical_pearl", _("Clinical pearl")),
]


class CalloutBlock(blocks.StructBlock):
    kind = blocks.ChoiceBlock(choices=CALLOUT_KINDS, default="key_point")
    title = blocks.CharBlock(required=False, max_length=120)
    text = blocks.RichTextBlock(features=INLINE_FEATURES)

    class Meta:
        icon = "warning"
        label = _("Callout")
        template = "blocks/callout_block.html"

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        context["kind_label"] = dict(CALLOUT_KINDS).get(value["kind"], "")
        return context


class CitationBlock(blocks.StructBlock):
    """One structured reference; a DOI is preferred to a URL because it does not rot."""

    authors = blocks.CharBlock(max_length=400, help_text=_("e.g. Mongan J, Moy L, Kahn CE Jr"))
    title = blocks.CharBlock(max_length=400)
    source = blocks.CharBlock(
        max_length=300, help_text=_("Journal and volume/pages, or the issuing body.")
    )
    year = blocks.IntegerBlock(min_value=1800, max_value=2100)
    doi = blocks.CharBlock(required=False, max_length=200, help_text=_("e.g. 10.1148/ryai.240300"))
    url = blocks.URLBlock(required=False)

    class Meta:
        icon = "link"
        label = _("Citation")

    def clean(self, value):
        value = super().clean(value)
        errors = {}
        if value.get("doi") and not DOI_PATTERN.match(value["doi"]):
            errors["doi"] = ValidationError(_("A DOI starts with 10. and has a slash."))
        if not value.get("doi") and not value.get("url"):
            errors["url"] = ValidationError(_("Give a DOI or a URL so readers can find it."))
        if errors:
            raise blocks.StructBlockValidationError(block_errors=errors)
        return value


class ReferencesBlock(blocks.StructBlock):
    heading = blocks.CharBlock(required=False, max_length=120, default=_("References"))
    citations = blocks.ListBlock(CitationBlock(), min_num=1)

    class Meta:
        icon = "list-ol"
        label = _("References")
        template = "blocks/references_block.html"


class VideoDocumentChooserBlock(DocumentChooserBlock):
    """A Wagtail document that is a video file the browser can play itself."""

    def clean(self, value):
        value = super().clean(value)
        if value is not None and value.file_extension.lower() not in VIDEO_EXTENSIONS:
            raise ValidationError(
                _("Choose a video file (%(extensions)s).")
                % {"extensions": ", ".join(sorted(VIDEO_EXTENSIONS))}
            )
        return value


class VideoBlock(blocks.StructBlock):
    video = VideoDocumentChooserBlock()
    title = blocks.CharBlock(max_length=200)
    transcript = blocks.RichTextBlock(
        required=False,
        features=INLINE_FEATURES,
        help_text=_("A transcript or description makes the video accessible."),
    )

    class Meta:
        icon = "media"
        label = _("Video")
        template = "blocks/video_block.html"


class LessonBodyBlock(blocks.StreamBlock):
    paragraph = blocks.RichTextBlock(features=PROSE_FEATURES, label=_("Rich text"))
    figure = FigureBlock()
    callout = CalloutBlock()
    lab = LabBlock()
    cohort_lab = CohortLabBlock()
    quiz = QuizBlock()
    reading_room = ReadingRoomBlock()
    reader_study = ReaderStudyBlock()
    viewer = ViewerBlock()
    deid = DeidBlock()
    model_builder = ModelBuilderBlock()
    references = ReferencesBlock()
    video = VideoBlock()
