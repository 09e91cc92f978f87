"""Cases for a simulation, drawn from a real model's scores at a chosen prevalence.

The model's scores over a real cohort come in two pools: positives (a lesion present: the
"critical finding" of the triage lab, the "cancer" of the screening lab) and negatives.
The cohort's own prevalence (about one half) is rarely the clinic's, so a simulated
population is drawn like this, deterministically from `seed`:

- the number of positives is exactly round(prevalence x size) (not binomial), so the
  prevalence the exercise sets is the one the resident sees;
- each positive takes a score drawn with replacement from the positive pool, each negative
  from the negative pool (a bootstrap: the score distribution of each class is the model's
  real one, the mix is the exercise's);
- positives and negatives are shuffled together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class PopulationRefused(ValueError):
    """The pools or the prevalence cannot give the population asked for."""


@dataclass(frozen=True)
class Population:
    scores: np.ndarray  # float (size,), the model's probability that the case is positive
    positive: np.ndarray  # bool (size,)

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def positive_count(*, prevalence: float, size: int) -> int:
    """round(prevalence x size), the number of positives a population of `size` holds."""
    return round(prevalence * size)


def population_draw(
    *,
    positive_scores: np.ndarray,
    negative_scores: np.ndarray,
    prevalence: float,
    size: int,
    seed: int,
) -> Population:
    """`size` cases at `prevalence`, scores bootstrapped from each class's pool (see above)."""
    if not 0.0 <= prevalence <= 1.0:
        raise PopulationRefused("The prevalence must lie between 0 and 1.")
    if size < 1:
        raise PopulationRefused("A population needs at least one case.")
    positives = positive_count(prevalence=prevalence, size=size)
    negatives = size - positives
    if positives and len(positive_scores) == 0:
        raise PopulationRefused("The cohort has no positive case to draw from.")
    if negatives and len(negative_scores) == 0:
        raise PopulationRefused("The cohort has no negative case to draw from.")
    rng = np.random.default_rng(seed)
    scores = np.concatenate(
        [
            rng.choice(np.asarray(positive_scores, float), size=positives, replace=True)
            if positives
            else np.empty(0),
            rng.choice(np.asarray(negative_scores, float), size=negatives, replace=True)
            if negatives
            else np.empty(0),
        ]
    )
    labels = np.concatenate([np.ones(positives, bool), np.zeros(negatives, bool)])
    order = rng.permutation(size)
    return Population(scores=scores[order], positive=labels[order])
