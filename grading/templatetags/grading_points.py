"""`points`: a mark as examiners write it: 12.5, 15, 13.25 (no trailing zeros)."""

from django import template

register = template.Library()


@register.filter
def points(value) -> str:
    if value is None or value == "":
        return "—"
    return f"{round(float(value), 2):g}"
