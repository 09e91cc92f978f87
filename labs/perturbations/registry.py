"""Perturbations by key. Adding one is adding one module and one line here."""

from labs.perturbations.base import Perturbation
from labs.perturbations.gaussian_noise import GaussianNoise


class UnknownPerturbation(LookupError):
    pass


PERTURBATIONS: dict[str, Perturbation] = {
    perturbation.key: perturbation for perturbation in (GaussianNoise(),)
}


def perturbation_get(key: str) -> Perturbation:
    try:
        return PERTURBATIONS[key]
    except KeyError:
        raise UnknownPerturbation(f"No perturbation {key!r}.") from None


def perturbation_choices() -> list[tuple[str, str]]:
    return [(p.key, p.title) for p in PERTURBATIONS.values()]
