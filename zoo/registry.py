"""Models of the zoo by key. Adding a model is adding one module and one line here.

Instances are cheap: weights load on first use, so a missing weights file shows as a clear
WeightsUnavailable on the run that needs it, never as an import error.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zoo.base import ZooModel
from zoo.ct_lesion import CtLesionFinder
from zoo.ct_lesion_shortcut import CtLesionShortcut
from zoo.ct_tissue import CtTissueSegmenter
from zoo.cxr_nodule import CxrNoduleClassifier
from zoo.litemedsam import LiteMedSamSegmenter
from zoo.mr_brain_deepbet import DeepbetBrainExtractor


class UnknownModel(LookupError):
    pass


MODELS: dict[str, ZooModel] = {
    model.key: model
    for model in (
        CtTissueSegmenter(),
        CtLesionFinder(),
        CtLesionShortcut(),
        CxrNoduleClassifier(),
        DeepbetBrainExtractor(),
        LiteMedSamSegmenter(),
    )
}


@dataclass(frozen=True)
class ModelSource:
    """Models that live in the database rather than in the zoo's code (an educator's upload,
    a resident's trained model). The app that owns the rows registers its source at start-up
    (its AppConfig.ready), so the zoo finds them without importing an app above it."""

    # Keys of this source's models start with it ("upload-", "trained-").
    prefix: str
    # The model with this key as a ZooModel while it can run, else None.
    usable: Callable[[str], ZooModel | None]
    # (key, title) of models every lab author may choose.
    choices: Callable[[], list[tuple[str, str]]] | None = None
    # (key, title) of models one user may run on their own (e.g. those they trained).
    choices_for_user: Callable[[Any], list[tuple[str, str]]] | None = None


_MODEL_SOURCES: dict[str, ModelSource] = {}


def model_source_register(source: ModelSource) -> None:
    """Add a source of database-held models; registering one prefix again replaces it."""
    _MODEL_SOURCES[source.prefix] = source


def model_get(key: str) -> ZooModel:
    """A model of the zoo, or one of a registered source: an educator's validated upload
    (keys "upload-<pk>", labs) or a resident's trained model (keys "trained-<pk>",
    model_builder)."""
    if key in MODELS:
        return MODELS[key]
    for prefix, source in _MODEL_SOURCES.items():
        if key.startswith(prefix):
            model = source.usable(key)
            if model is not None:
                return model
    raise UnknownModel(f"No model {key!r} in the zoo.")


def model_choices() -> list[tuple[str, str]]:
    """The zoo's models and those every author may choose from a source (validated uploads),
    for choosing a lab's model."""
    from django.db import DatabaseError

    try:
        from_sources = [
            choice
            for source in _MODEL_SOURCES.values()
            if source.choices is not None
            for choice in source.choices()
        ]
    except DatabaseError:  # before migrations, e.g. during `manage.py check`
        from_sources = []
    return [(model.key, model.title) for model in MODELS.values()] + from_sources


def model_choices_for_user(*, user) -> list[tuple[str, str]]:
    """(key, title) of the models this user may run in place of a lab's own: the ones they
    trained in the model builder."""
    return [
        choice
        for source in _MODEL_SOURCES.values()
        if source.choices_for_user is not None
        for choice in source.choices_for_user(user)
    ]


def model_title(key: str) -> str:
    """The title people read for a model key (the key itself if no model has it any more)."""
    if key in MODELS:
        return MODELS[key].title
    try:
        return model_get(key).title
    except UnknownModel:
        return key
