"""What a lab exercise can offer a resident: perturbations (incl. adversarial) and studies.

The registered perturbations change an image from a severity alone; FGSM and PGD need the
model's gradients, so they are listed here as `AdversarialAttack`s with the same fields
(title, explanation, unit, range) and the lab computation runs them against the model.
An exercise narrows each one's range (`PerturbationOffer`); `offer_validate` is the single
server-side check of a resident's choice against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zoo.perturbations.registry import PERTURBATIONS, UnknownPerturbation


@dataclass(frozen=True)
class AdversarialAttack:
    """FGSM or PGD under an L-infinity budget, epsilon in modality units (HU on CT)."""

    key: str
    title: str
    explanation: str
    severity_unit: str = "HU or intensity units (largest change of any pixel)"
    severity_min: float = 0.0
    severity_max: float = 100.0
    modalities: frozenset[str] = frozenset({"CT", "MR", "CR", "DX"})
    steps: int = 1


ADVERSARIAL_ATTACKS: dict[str, AdversarialAttack] = {
    attack.key: attack
    for attack in (
        AdversarialAttack(
            key="fgsm",
            title="Adversarial noise (FGSM)",
            explanation=(
                "The fast gradient sign method (Goodfellow et al., 2015) moves every pixel by "
                "exactly epsilon in the direction that most increases the model's error on "
                "its own answer. Nothing in a scanner makes this pattern: it is computed from "
                "the model's gradients. A change of a few HU, invisible at any window, can be "
                "enough to change the output, because networks are close to linear in many "
                "directions at once."
            ),
            steps=1,
        ),
        AdversarialAttack(
            key="pgd",
            title="Adversarial noise (PGD, 10 steps)",
            explanation=(
                "Projected gradient descent (Madry et al., 2018) repeats the gradient-sign "
                "step ten times with smaller steps and pulls the image back inside the "
                "epsilon budget after each. At the same largest pixel change it usually does "
                "more damage than FGSM, which assumes the model is linear over the whole "
                "step. Robustness claims are tested against attacks like this one."
            ),
            steps=10,
        ),
    )
}


class UnknownOffer(LookupError):
    pass


def lab_perturbation_get(key: str):
    """A registered perturbation or an adversarial attack by key."""
    if key in ADVERSARIAL_ATTACKS:
        return ADVERSARIAL_ATTACKS[key]
    try:
        return PERTURBATIONS[key]
    except KeyError:
        raise UnknownPerturbation(f"No perturbation {key!r}.") from None


def lab_perturbation_choices() -> list[tuple[str, str]]:
    return [(p.key, p.title) for p in PERTURBATIONS.values()] + [
        (a.key, a.title) for a in ADVERSARIAL_ATTACKS.values()
    ]


@dataclass(frozen=True)
class PerturbationOffer:
    """One perturbation an exercise offers and the severities a resident may choose."""

    key: str
    low: float
    high: float
    default: float

    @property
    def perturbation(self):
        return lab_perturbation_get(self.key)

    @property
    def is_adversarial(self) -> bool:
        return self.key in ADVERSARIAL_ATTACKS


def offer_from_block(value) -> PerturbationOffer:
    """An authored offer (a StructBlock value or dict) narrowed to the perturbation's range.

    Raises ValueError when the authored range is empty or outside the perturbation's own.
    """
    key = value["perturbation"]
    try:
        perturbation = lab_perturbation_get(key)
    except UnknownPerturbation as error:
        raise ValueError(str(error)) from None
    low = value.get("severity_min")
    high = value.get("severity_max")
    low = perturbation.severity_min if low is None else float(low)
    high = perturbation.severity_max if high is None else float(high)
    if low < perturbation.severity_min or high > perturbation.severity_max or low > high:
        raise ValueError(
            f"{perturbation.title} allows {perturbation.severity_min:g} to "
            f"{perturbation.severity_max:g} {perturbation.severity_unit}; "
            f"{low:g} to {high:g} is not inside it."
        )
    default = value.get("severity_default")
    default = (low + high) / 2 if default is None else min(max(float(default), low), high)
    return PerturbationOffer(key=key, low=low, high=high, default=default)


def offer_validate(offer: PerturbationOffer, severity) -> float:
    """The resident's severity as a float inside the offer's range, or ValueError (message
    written for the resident)."""
    try:
        value = float(severity)
    except (TypeError, ValueError):
        raise ValueError("Severity must be a number.") from None
    if not math.isfinite(value) or not offer.low <= value <= offer.high:
        raise ValueError(
            f"Severity must lie between {offer.low:g} and {offer.high:g} "
            f"{offer.perturbation.severity_unit}."
        )
    return value


def lab_study_choices() -> list[tuple[str, str]]:
    """The built-in samples and every study of the library index that has a key."""
    from django.db import DatabaseError

    from studies.selectors import sample_study_choices

    choices = list(sample_study_choices())
    try:
        from studies.models import Study

        indexed = (
            Study.objects.exclude(key="")
            .exclude(is_quarantined=True)  # unreviewed pixels: not offered to any lesson
            .order_by("key")
            .values_list("key", "title")
        )
        known = {key for key, _title in choices}
        choices += [(key, title or key) for key, title in indexed if key not in known]
    except DatabaseError:  # before migrations, e.g. during `manage.py check`
        pass
    return choices
