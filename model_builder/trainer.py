"""Training one model, epoch by epoch, in a child process the worker supervises.

`python -m model_builder.trainer WORK_DIR` reads `WORK_DIR/dataset.npz` and
`WORK_DIR/config.json`, trains, and writes one JSON line to stdout per event:

    {"event": "batch", "epoch": 3, "fraction": 0.4}           progress inside an epoch
    {"event": "epoch", "epoch": 3, "train_loss": ..., "test_loss": ..., "test_auc": ...}
    {"event": "done", "epochs": 8, "stopped_early": false, "seconds": ...}

After every epoch it saves `checkpoint.pt` (weights, optimiser, random state, curves), so a
run whose worker died goes on from the last finished epoch: the next attempt starts this
process again and it resumes from that checkpoint. The checkpoint is written to a
temporary name and renamed, so a kill mid-write leaves the previous one intact.

Pure torch and numpy (no Django): the worker gives it a time limit and a memory limit
(`model_builder.services`), and nothing it does can touch the database.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from model_builder.networks import images_to_channels, network_build

LEARNING_RATES = {"cautious": 3e-4, "standard": 1e-3, "fast": 3e-3}
AUGMENTATIONS = ("flip", "rotate", "noise", "intensity")
MAX_ROTATION_DEGREES = 10.0
NOISE_SD = 0.03  # in window units (0-1)
INTENSITY_JITTER = 0.1  # +-10 % contrast, +-5 % brightness


@dataclass(frozen=True)
class TrainingConfig:
    model_size: str
    epochs: int
    learning_rate: str
    augmentations: tuple[str, ...]
    batch_size: int
    seed: int
    soft_seconds: float  # stop after the batch that passes this, keeping what was learnt
    epoch_pause_seconds: float = 0.0  # tests only: time to kill a worker mid-run

    @classmethod
    def from_json(cls, data: dict) -> TrainingConfig:
        return cls(
            model_size=data["model_size"],
            epochs=int(data["epochs"]),
            learning_rate=data["learning_rate"],
            augmentations=tuple(data["augmentations"]),
            batch_size=int(data["batch_size"]),
            seed=int(data["seed"]),
            soft_seconds=float(data["soft_seconds"]),
            epoch_pause_seconds=float(data.get("epoch_pause_seconds", 0.0)),
        )


def augment(images: torch.Tensor, *, chosen: tuple[str, ...], generator: torch.Generator):
    """Random flips, rotations, noise and intensity changes, drawn per image."""
    count = images.shape[0]

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(count, *shape, generator=generator)

    if "flip" in chosen:
        flip_columns = torch.rand(count, generator=generator) < 0.5
        flip_rows = torch.rand(count, generator=generator) < 0.5
        images = torch.where(flip_columns[:, None, None, None], images.flip(-1), images)
        images = torch.where(flip_rows[:, None, None, None], images.flip(-2), images)
    if "rotate" in chosen:
        angle = uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES) * math.pi / 180
        cos, sin = angle.cos(), angle.sin()
        zero = torch.zeros_like(cos)
        theta = torch.stack(
            [torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1
        )
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        images = F.grid_sample(images, grid, padding_mode="border", align_corners=False)
    if "intensity" in chosen:
        contrast = uniform(1 - INTENSITY_JITTER, 1 + INTENSITY_JITTER, 1, 1, 1)
        brightness = uniform(-INTENSITY_JITTER / 2, INTENSITY_JITTER / 2, 1, 1, 1)
        images = images * contrast + brightness
    if "noise" in chosen:
        images = images + NOISE_SD * torch.randn(images.shape, generator=generator)
    return images


def rank_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney AUC for the live curve (the final one comes with a CI from zoo)."""
    from zoo.evaluation import auc

    return auc(scores=scores, positive=labels.astype(bool))


@torch.inference_mode()
def scores_predict(network, inputs: torch.Tensor, *, device) -> np.ndarray:
    network.eval()
    chunks = [
        network(inputs[start : start + 256].to(device)).sigmoid().cpu()
        for start in range(0, len(inputs), 256)
    ]
    return torch.cat(chunks).numpy() if chunks else np.zeros(0, np.float32)


def _emit(**event) -> None:
    print(json.dumps(event), flush=True)


def _checkpoint_save(path: Path, state: dict) -> None:
    staged = path.with_suffix(".partial")
    torch.save(state, staged)
    os.replace(staged, path)


def train(work_dir: Path) -> dict:
    """Train (or go on training) the run in `work_dir`; returns the "done" event."""
    config = TrainingConfig.from_json(json.loads((work_dir / "config.json").read_text()))
    data = np.load(work_dir / "dataset.npz")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    modality = str(data["modality"])
    is_train = data["is_train"].astype(bool)
    inputs = images_to_channels(data["images"], modality=modality)
    labels = torch.from_numpy(data["labels"].astype(np.float32))
    train_index = np.flatnonzero(is_train)
    test_index = np.flatnonzero(~is_train)
    test_inputs, test_labels = inputs[test_index], data["labels"][test_index]

    torch.manual_seed(config.seed)
    network = network_build(size=config.model_size).to(device)
    optimiser = torch.optim.Adam(network.parameters(), lr=LEARNING_RATES[config.learning_rate])
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    history: list[dict] = []
    first_epoch, seconds_before = 1, 0.0
    checkpoint_path = work_dir / "checkpoint.pt"
    if checkpoint_path.exists():
        # weights_only: our own file, but a checkpoint is still read as data, never code.
        state = torch.load(checkpoint_path, map_location=device, weights_only=True)
        network.load_state_dict(state["network"])
        optimiser.load_state_dict(state["optimiser"])
        generator.set_state(state["generator"])
        rng.bit_generator.state = state["rng"]
        history = state["history"]
        first_epoch = state["epoch"] + 1
        seconds_before = state["seconds"]
        _emit(event="resumed", epoch=state["epoch"], history=history)

    started = time.monotonic()
    stopped_early = False
    # Positives and negatives are rarely balanced in a resident's own cohort.
    positives = float(labels[train_index].sum())
    pos_weight = torch.tensor((len(train_index) - positives) / max(positives, 1.0), device=device)
    for epoch in range(first_epoch, config.epochs + 1):
        network.train()
        order = rng.permutation(train_index)
        batches = max(1, len(order) // config.batch_size)
        total = 0.0
        for number in range(batches):
            index = torch.from_numpy(
                order[number * config.batch_size : (number + 1) * config.batch_size]
            )
            x = augment(inputs[index], chosen=config.augmentations, generator=generator)
            loss = F.binary_cross_entropy_with_logits(
                network(x.to(device)), labels[index].to(device), pos_weight=pos_weight
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.item())
            if number % 10 == 9:
                _emit(event="batch", epoch=epoch, fraction=(number + 1) / batches)
            if seconds_before + time.monotonic() - started > config.soft_seconds:
                stopped_early = True
                break
        scores = scores_predict(network, test_inputs, device=device)
        test_loss = float(
            F.binary_cross_entropy(
                torch.from_numpy(scores).clamp(1e-6, 1 - 1e-6),
                torch.from_numpy(test_labels.astype(np.float32)),
            )
        )
        row = {
            "epoch": epoch,
            "train_loss": total / (number + 1),
            "test_loss": test_loss,
            "test_auc": rank_auc(scores, test_labels),
        }
        history.append(row)
        _checkpoint_save(
            checkpoint_path,
            {
                "network": network.state_dict(),
                "optimiser": optimiser.state_dict(),
                "generator": generator.get_state(),
                "rng": rng.bit_generator.state,
                "history": history,
                "epoch": epoch,
                "seconds": seconds_before + time.monotonic() - started,
            },
        )
        _emit(event="epoch", **row)
        if stopped_early:
            break
        if config.epoch_pause_seconds:
            time.sleep(config.epoch_pause_seconds)

    network.eval().cpu()
    torch.jit.save(torch.jit.script(network), str(work_dir / "model.pt"))
    scores = scores_predict(network, test_inputs, device=torch.device("cpu"))
    outputs = {"test_scores": scores}
    if "new_images" in data.files:
        new_inputs = images_to_channels(data["new_images"], modality=modality)
        outputs["new_scores"] = scores_predict(network, new_inputs, device=torch.device("cpu"))
    np.savez(work_dir / "predictions.npz", **outputs)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    done = {
        "event": "done",
        "epochs": history[-1]["epoch"] if history else 0,
        "stopped_early": stopped_early,
        "seconds": seconds_before + time.monotonic() - started,
        # ru_maxrss is in KiB on Linux: this process's resident high-water mark.
        "peak_rss_mb": usage.ru_maxrss / 1024,
        # CPU time (all threads, this attempt): comparable across loaded and idle machines.
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }
    _emit(**done)
    return done


def main(argv: list[str]) -> int:
    # One thread per training: the worker machine is shared with interactive labs.
    torch.set_num_threads(int(os.environ.get("MODEL_BUILDER_TORCH_THREADS", "1")))
    train(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
