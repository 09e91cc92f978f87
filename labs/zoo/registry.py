"""Models of the zoo by key. Adding a model is adding one module and one line here.

Instances are cheap: weights load on first use, so a missing weights file shows as a clear
WeightsUnavailable on the run that needs it, never as an import error.
"""

from labs.zoo.base import ZooModel
from labs.zoo.ct_lesion import CtLesionFinder
from labs.zoo.ct_tissue import CtTissueSegmenter
from labs.zoo.cxr_nodule import CxrNoduleClassifier
from labs.zoo.mr_brain_deepbet import DeepbetBrainExtractor


class UnknownModel(LookupError):
    pass


MODELS: dict[str, ZooModel] = {
    model.key: model
    for model in (
        CtTissueSegmenter(),
        CtLesionFinder(),
        CxrNoduleClassifier(),
        DeepbetBrainExtractor(),
    )
}


def model_get(key: str) -> ZooModel:
    try:
        return MODELS[key]
    except KeyError:
        raise UnknownModel(f"No model {key!r} in the zoo.") from None


def model_choices() -> list[tuple[str, str]]:
    return [(model.key, model.title) for model in MODELS.values()]
