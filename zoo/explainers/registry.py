"""Explainers by key. Adding one is adding one module and one line here."""

from zoo.explainers.base import Explainer
from zoo.explainers.grad_cam import GradCam
from zoo.explainers.integrated_gradients import IntegratedGradients
from zoo.explainers.occlusion import Occlusion


class UnknownExplainer(LookupError):
    pass


EXPLAINERS: dict[str, Explainer] = {
    explainer.key: explainer for explainer in (GradCam(), IntegratedGradients(), Occlusion())
}


def explainer_get(key: str) -> Explainer:
    try:
        return EXPLAINERS[key]
    except KeyError:
        raise UnknownExplainer(f"No explainer {key!r}.") from None


def explainer_choices() -> list[tuple[str, str]]:
    return [(explainer.key, explainer.title) for explainer in EXPLAINERS.values()]
