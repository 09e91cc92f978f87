"""Template tags for pages that embed labs: the lab block and the lab-report run picker."""

from django import template
from django.template.loader import render_to_string

from labs import selectors

register = template.Library()


@register.simple_tag
def lab_exercise_images(exercise) -> dict:
    """{"count": images in the exercise's study, "default": the image it opens on}."""
    count = selectors.study_image_count_shown(study_key=exercise.study_key)
    return {"count": count, "default": selectors.exercise_default_slice(exercise, count=count)}


@register.simple_tag
def lab_prompt_viewer(exercise) -> dict | None:
    """The viewer a prompt lab's form draws its box in (study, series, first image) and the
    id of the hidden field the viewer fills with the marks; None outside the library."""
    viewer = selectors.exercise_prompt_viewer(exercise)
    if viewer is None:
        return None
    return {**viewer, "field_id": f"prompt-{exercise.pk}"}


@register.simple_tag
def lab_runs_reportable_for(user):
    """The user's finished runs a lab report may include (see selectors.lab_runs_reportable)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(selectors.lab_runs_reportable(user)[:100])


@register.simple_tag(takes_context=True)
def lab_own_models(context, user) -> list[tuple[str, str]]:
    """(zoo key, title) of the models this resident trained, offered in place of the
    exercise's model (a model built without code is tested in the same labs). Read once
    per request however many labs the page holds (kept on the request)."""
    if not getattr(user, "is_authenticated", False):
        return []
    request = context.get("request")
    kept = getattr(request, "_lab_own_models", None)
    if kept is not None and kept[0] == user.pk:
        return kept[1]
    choices = selectors.lab_own_model_choices(user=user)
    if request is not None:
        request._lab_own_models = (user.pk, choices)
    return choices


OWN_MODELS_CHOICE_TEMPLATE = "labs/_lab_own_models_choice.html"


@register.simple_tag(takes_context=True)
def lab_own_models_choice(context, exercise) -> str:
    """A lab form's choice of the reader's own trained models (lab_own_models) in place of
    the exercise's model; empty when they have none. While a lab form is rendered once for
    every reader (curriculum.lesson_shell puts `lab_form_holes` in the context), a hole
    that each request fills with lab_own_models_choice_render."""
    holes = context.get("lab_form_holes")
    if holes is not None:
        return holes.own_models_choice(exercise)
    return lab_own_models_choice_render(
        exercise_pk=exercise.pk,
        model_key=exercise.model_key,
        model_title=str(exercise.get_model_key_display()),
        own_models=lab_own_models(context, context.get("user")),
    )


def lab_own_models_choice_render(
    *, exercise_pk: int, model_key: str, model_title: str, own_models: list[tuple[str, str]]
) -> str:
    """The markup of lab_own_models_choice, from what it shows of the exercise."""
    if not own_models:
        return ""
    return render_to_string(
        OWN_MODELS_CHOICE_TEMPLATE,
        {
            "exercise_pk": exercise_pk,
            "model_key": model_key,
            "model_title": model_title,
            "own_models": own_models,
        },
    )
