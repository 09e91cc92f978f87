"""LiteMedSAM on the CPU: time per 512 x 512 CT slice, per step, and per extra box.

Per slice: preprocessing (window, resize, pad), the image encoder, the prompt encoder and
mask decoder for one box, and postprocessing; then the cost of 8 more boxes on the same
image (encoded once), the way an interactive tool reuses the embedding. The reference is a
same-run baseline: the ct-lesion U-Net's forward pass on the same slice, so the figure
reads as a ratio on a machine whose speed varies. Load average is printed with it: on a
shared machine absolute seconds mean little.

    .venv/bin/python bench/litemedsam.py [--runs 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _median_seconds(function, runs: int) -> float:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()

    import django

    django.setup()
    import numpy as np
    import torch

    from zoo.base import ImageVolume
    from zoo.cohorts.ct_lesions import source_ct_load
    from zoo.ct_lesion import CtLesionFinder
    from zoo.litemedsam import LiteMedSamSegmenter, mask_box

    torch.set_num_threads(arguments.threads)
    source = source_ct_load()
    kidney = source.labels == 3
    index = int(np.argmax(kidney.sum(axis=(1, 2))))
    volume = ImageVolume.from_slice(
        image=source.hu[index], modality="CT", pixel_spacing_mm=source.spacing_mm[1:]
    )
    box = mask_box(kidney[index])
    model = LiteMedSamSegmenter()
    network = model.network()
    model.predict_prompted(volume, box=box)  # warm-up: weights, allocator
    prepared = model.preprocess(volume)
    boxes = torch.tensor([box], dtype=torch.float32) * prepared.context["scale"]
    with torch.inference_mode():
        embedding = network.image_encoder(prepared.tensor)
        logits = network.decode(embedding, boxes)
        steps = {
            "preprocess": _median_seconds(lambda: model.preprocess(volume), arguments.runs),
            "image encoder": _median_seconds(
                lambda: network.image_encoder(prepared.tensor), arguments.runs
            ),
            "prompt encoder + mask decoder (1 box)": _median_seconds(
                lambda: network.decode(embedding, boxes), arguments.runs
            ),
            "postprocess": _median_seconds(
                lambda: model.postprocess(logits, prepared), arguments.runs
            ),
        }
    whole = _median_seconds(lambda: model.predict_prompted(volume, box=box), arguments.runs)
    nine = _median_seconds(
        lambda: model.predict_boxes(volume, boxes=[box] * 9), max(1, arguments.runs // 2)
    )
    lesion = CtLesionFinder()
    lesion.predict(volume)
    baseline = _median_seconds(lambda: lesion.predict(volume), arguments.runs)
    load = Path("/proc/loadavg").read_text().split()[:3]

    print(f"LiteMedSAM, one 512 x 512 CT slice, {arguments.threads} torch threads, ")
    print(f"median of {arguments.runs} runs; load average {' '.join(load)}")
    for name, seconds in steps.items():
        print(f"  {name:42s} {seconds:7.3f} s")
    print(f"  {'whole predict_prompted (1 box)':42s} {whole:7.3f} s")
    print(f"  {'9 boxes on one slice (encoded once)':42s} {nine:7.3f} s")
    print(f"  {'baseline: ct-lesion predict, same slice':42s} {baseline:7.3f} s")
    print(f"  ratio LiteMedSAM / ct-lesion: {whole / baseline:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
