"""Models of the zoo by key. Adding a model is adding one module and one line here."""

from labs.zoo.base import ZooModel
from labs.zoo.ct_tissue import CtTissueSegmenter


class UnknownModel(LookupError):
    pass


MODELS: dict[str, ZooModel] = {model.key: model for model in (CtTissueSegmenter(),)}


def model_get(key: str) -> ZooModel:
    try:
        return MODELS[key]
    except KeyError:
        raise UnknownModel(f"No model {key!r} in the zoo.") from None


def model_choices() -> list[tuple[str, str]]:
    return [(model.key, model.title) for model in MODELS.values()]
