"""Explainers on a real slice: each explainer's time on one 512 x 512 axial chest CT slice
(the lesion finder), against the model's own prediction on the same slice in this same run.

The ratio is the number to watch (these machines are noisy: only same-run ratios mean
anything). The explain lab must finish all its explainers within the lab's hard limit
(settings.LAB_RUN_HARD_TIME_LIMIT_SECONDS); the suite only checks that each explainer gives a
sane map (tests/labs_tests/test_explainers.py), never how long it took.

    .venv/bin/python bench/explainers.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.harness import call_durations, latency_summary, percentile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()

    import django

    django.setup()
    import torch

    from zoo import ct_lesion
    from zoo.base import ImageVolume
    from zoo.cohorts import ct_lesions
    from zoo.explainers.registry import EXPLAINERS

    torch.set_num_threads(2)
    source = ct_lesions.source_ct_load()
    image = ImageVolume.from_slice(
        image=source.hu[source.hu.shape[0] // 2],
        modality="CT",
        pixel_spacing_mm=source.spacing_mm[1:],
    )
    model = ct_lesion.CtLesionFinder()
    # Weights loaded and first-call costs paid before timing. The prediction baseline runs
    # last: it runs under torch.inference_mode, whose tensors autograd then refuses.
    next(iter(EXPLAINERS.values())).explain(model=model, image=image)
    timings = {
        key: call_durations(lambda e=explainer: e.explain(model=model, image=image), arguments.runs)
        for key, explainer in EXPLAINERS.items()
    }
    baseline = call_durations(lambda: model.predict(image), max(5, arguments.runs))
    print(latency_summary("prediction (baseline)", baseline))
    reference = percentile(baseline, 0.5)
    for key, durations in timings.items():
        print(
            latency_summary(f"explainer {key}", durations)
            + f"   x{percentile(durations, 0.5) / reference:7.1f} prediction"
        )


if __name__ == "__main__":
    main()
