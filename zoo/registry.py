"""Models of the zoo by key. Adding a model is adding one module and one line here.

Instances are cheap: weights load on first use, so a missing weights file shows as a clear
WeightsUnavailable on the run that needs it, never as an import error.
"""

from zoo.base import ZooModel
from zoo.ct_lesion import CtLesionFinder
from zoo.ct_lesion_shortcut import CtLesionShortcut
from zoo.ct_tissue import CtTissueSegmenter
from zoo.cxr_nodule import CxrNoduleClassifier
from zoo.mr_brain_deepbet import DeepbetBrainExtractor
from zoo.uploaded import UPLOAD_KEY_PREFIX


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
    )
}


def model_get(key: str) -> ZooModel:
    """A model of the zoo, an educator's validated upload (keys "upload-<pk>"), or a
    resident's trained model (keys "trained-<pk>")."""
    if key in MODELS:
        return MODELS[key]
    if key.startswith(UPLOAD_KEY_PREFIX):
        from labs.selectors import uploaded_model_usable

        uploaded = uploaded_model_usable(key=key)
        if uploaded is not None:
            return uploaded
    if key.startswith("trained-"):
        # A resident's model from the no-code builder (model_builder.trained).
        from model_builder.selectors import trained_model_usable

        trained = trained_model_usable(key=key)
        if trained is not None:
            return trained
    raise UnknownModel(f"No model {key!r} in the zoo.")


def model_choices() -> list[tuple[str, str]]:
    """The zoo's models and every validated upload (for choosing a lab's model)."""
    from django.db import DatabaseError

    from labs.selectors import uploaded_models_usable_choices

    try:
        uploads = uploaded_models_usable_choices()
    except DatabaseError:  # before migrations, e.g. during `manage.py check`
        uploads = []
    return [(model.key, model.title) for model in MODELS.values()] + uploads
