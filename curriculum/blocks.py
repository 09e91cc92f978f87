"""StreamField blocks shared by curriculum pages. Each renders through blocks/<name>.html."""

from wagtail import blocks
from wagtail.snippets.blocks import SnippetChooserBlock


class LabBlock(blocks.StructBlock):
    """Embeds a hands-on lab (a LabExercise snippet) in a lesson."""

    exercise = SnippetChooserBlock("labs.LabExercise")
    introduction = blocks.TextBlock(
        required=False, help_text="One or two sentences shown above the lab."
    )

    class Meta:
        icon = "cogs"
        label = "Lab"
        template = "blocks/lab_block.html"


class LessonBodyBlock(blocks.StreamBlock):
    paragraph = blocks.RichTextBlock(
        features=["h2", "h3", "bold", "italic", "ol", "ul", "link", "hr"]
    )
    lab = LabBlock()
