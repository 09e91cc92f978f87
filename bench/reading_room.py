"""Reading-room simulations: a triage day and a screening population, computed the way a
resident's run computes them (reading_room.services), on a synthetic score pool.

Each simulation's time is printed against a fixed piece of numeric work measured in this
same run (sorting a million numbers), so the ratio carries over between machines. A run
should answer as the page is submitted (well under a second on the 2-core machine); the
suite checks the results, never the time.

    .venv/bin/python bench/reading_room.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.harness import (  # noqa: E402
    call_durations,
    latency_summary,
    load_average,
    percentile,
    verdict,
)

# Goal: a simulation answers as the page is submitted.
GOAL_SECONDS = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    arguments = parser.parse_args()

    import django

    django.setup()
    from types import SimpleNamespace

    import numpy as np

    from reading_room import services
    from reading_room.models import ReadingRoomExercise

    rng = np.random.default_rng(0)
    positive = rng.random(400) < 0.3
    scores = np.clip(rng.normal(np.where(positive, 0.7, 0.3), 0.15), 0, 1)
    pool = SimpleNamespace(scores=scores, positive=positive)
    exercise = ReadingRoomExercise()  # the defaults an educator starts from; never saved

    numbers = rng.random(1_000_000)
    baseline = call_durations(lambda: np.sort(numbers), arguments.runs)
    print(latency_summary("sort 1e6 numbers (baseline)", baseline))
    reference = percentile(baseline, 0.5)
    for label, simulate in (
        ("triage day", services._triage_results),
        ("screening population", services._screening_results),
    ):
        durations = call_durations(
            lambda s=simulate: s(exercise=exercise, pool=pool, threshold=0.5, seed=1),
            arguments.runs,
        )
        print(
            latency_summary(label, durations)
            + f"   x{percentile(durations, 0.5) / reference:7.3f} baseline"
        )
        p95 = percentile(durations, 0.95)
        print(
            verdict(
                f"a {label} answers within the request (p95 < {GOAL_SECONDS:g} s)",
                p95 < GOAL_SECONDS,
                f"{p95:.3f} s; load average {load_average()}",
            )
        )


if __name__ == "__main__":
    main()
