"""Model zoo benchmark: per model, the time of each step per study on the CPU (2 threads).

For each model: preprocessing, inference and postprocessing (median of N runs), peak
resident memory growth while running it, the training wall time recorded by zoo_build,
and the ratio of our inference step to a plain torch forward pass of the same network on
the same tensor (the pipeline's overhead: device moves, error wrapping, output copies).
Run after `python manage.py zoo_build`:

    .venv/bin/python bench/zoo.py [--runs 5] [--only ct-lesion cxr-nodule]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import load_average, verdict  # noqa: E402

# Goal: the pipeline adds little to a plain forward pass (under ~1.5x is run-to-run noise).
GOAL_RATIO = 1.5
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _peak_rss_mb() -> float:
    """The process's resident high-water mark: a model shows growth only past earlier peaks."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(function, runs: int) -> tuple[float, object]:
    durations, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), result


def _studies() -> dict:
    """One realistic study per model, read the way the labs read them."""
    from studies.selectors import study_series_load
    from zoo.base import ImageVolume
    from zoo.cohorts import ct_lesions, radiographs
    from zoo.mr_brain_deepbet import evaluation_studies_load
    from zoo.weights_files import ZOO_CACHE_DIR

    source = ct_lesions.source_ct_load()
    studies = {
        "ct-tissue": ImageVolume.from_slice(
            image=study_series_load(study_key="ct-small").pixels[0], modality="CT"
        ),
        # A whole 512 x 512 axial slice through both lungs, at its native 0.70 mm.
        "ct-lesion": ImageVolume.from_slice(
            image=source.hu[80], modality="CT", pixel_spacing_mm=source.spacing_mm[1:]
        ),
        "cxr-nodule": ImageVolume.from_slice(
            image=radiographs.radiograph_normalise(radiographs.projection_base()),
            modality="DX",
            pixel_spacing_mm=(radiographs.PIXEL_MM, radiographs.PIXEL_MM),
        ),
    }
    try:
        brain = evaluation_studies_load(library_dir=ZOO_CACHE_DIR / "library")
        studies["mr-brain-deepbet"] = brain["colin27"]
    except Exception as error:  # weights or sources missing: bench what we can
        print(f"(skipping mr-brain-deepbet: {error})")
    return studies


def model_bench(*, key: str, model, volume, runs: int) -> tuple:
    """One table row: step timings, plain-forward baseline, memory growth, training time."""
    import torch

    rss_before = _peak_rss_mb()
    model.network()  # load weights outside the timings
    preprocess_s, prepared = _timed(lambda: model.preprocess(volume), runs)
    with torch.inference_mode():
        network = model.network()
        # Warm-up: the first calls allocate and pick kernels; neither side should pay it.
        model.forward(prepared.tensor)
        network(prepared.tensor)
        inference_s, output = _timed(lambda: model.forward(prepared.tensor), runs)
        plain_s, _ = _timed(lambda: network(prepared.tensor), runs)
    postprocess_s, _ = _timed(lambda: model.postprocess(output, prepared), runs)
    metrics_file = ROOT / "labs" / "zoo" / "weights" / f"{key.replace('-', '_')}.metrics.json"
    training = None
    if metrics_file.exists():
        training = json.loads(metrics_file.read_text()).get("training_seconds")
    return (
        key,
        "x".join(str(n) for n in volume.pixels.shape),
        preprocess_s,
        inference_s,
        postprocess_s,
        plain_s,
        inference_s / plain_s if plain_s else float("nan"),
        _peak_rss_mb() - rss_before,
        training,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*")
    arguments = parser.parse_args()

    import django

    django.setup()
    import torch

    from zoo.registry import MODELS

    torch.set_num_threads(2)
    os.environ["ARTEFACT_ZOO_DEVICE"] = "cpu"
    studies = _studies()
    rows = []
    for key, model in MODELS.items():
        if key not in studies or (arguments.only and key not in arguments.only):
            continue
        volume = studies[key]
        runs = 1 if key == "mr-brain-deepbet" else arguments.runs
        rows.append(model_bench(key=key, model=model, volume=volume, runs=runs))
    header = (
        f"{'model':18} {'study':13} {'pre s':>7} {'infer s':>8} {'post s':>7} "
        f"{'plain s':>8} {'ratio':>6} {'+peak MB':>9} {'train s':>8}"
    )
    print(f"CPU, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(header)
    print("-" * len(header))
    for key, shape, pre, infer, post, plain, ratio, peak, training in rows:
        trained = f"{training:8.0f}" if training else f"{'-':>8}"
        print(
            f"{key:18} {shape:13} {pre:7.3f} {infer:8.3f} {post:7.3f} {plain:8.3f} "
            f"{ratio:6.2f} {peak:9.0f} {trained}"
        )
    worst = max(row[6] for row in rows)
    print(
        verdict(
            f"inference step <= {GOAL_RATIO:g}x a plain forward pass for every model",
            worst <= GOAL_RATIO,
            f"worst {worst:.2f}x; load average {load_average()}",
        )
    )


if __name__ == "__main__":
    main()
