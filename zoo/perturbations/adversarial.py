"""Adversarial perturbations: FGSM and PGD under an L-infinity budget in image units.

Not registered perturbations: they need a model and its gradients, so the lab engine calls
these functions with a zoo model's network instead of a severity alone.

Everything is in the image's own units (HU on CT, intensity on MR), so epsilon reads
clinically: "no pixel changed by more than 5 HU". The caller supplies `to_network_input`,
the differentiable map from image units to the tensor the network takes (for the CT tissue
model, `lambda hu: hu.clamp(-1024, 3071) / 1000`), and `loss`, the scalar the attack
increases, computed from the network's output (e.g. cross-entropy against the labels the
model gave the clean image, so the attack pushes the model away from its own answer).

References: Goodfellow et al., "Explaining and harnessing adversarial examples" (ICLR 2015)
for FGSM; Madry et al., "Towards deep learning models resistant to adversarial attacks"
(ICLR 2018) for PGD with projection onto the epsilon ball.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

NetworkInputMap = Callable[[torch.Tensor], torch.Tensor]
OutputLoss = Callable[[torch.Tensor], torch.Tensor]


def _unchanged(image: torch.Tensor) -> torch.Tensor:
    return image


def _image_tensor(image: np.ndarray) -> torch.Tensor:
    """(rows, cols) -> (1, 1, rows, cols) float32; (slices, rows, cols) -> (1, slices, ...)."""
    tensor = torch.from_numpy(np.array(image, dtype=np.float32, copy=True))
    while tensor.ndim < 4:
        tensor = tensor.unsqueeze(0)
    return tensor


def _loss_gradient(
    *,
    network: nn.Module,
    image: torch.Tensor,
    loss: OutputLoss,
    to_network_input: NetworkInputMap,
) -> torch.Tensor:
    image = image.detach().requires_grad_(True)
    value = loss(network(to_network_input(image)))
    (gradient,) = torch.autograd.grad(value, image)
    return gradient


def _project(
    candidate: torch.Tensor,
    *,
    original: torch.Tensor,
    epsilon: float,
    value_range: tuple[float, float] | None,
) -> torch.Tensor:
    """Nearest point of the L-inf ball around `original` (and of the valid value range)."""
    projected = original + (candidate - original).clamp(-epsilon, epsilon)
    if value_range is not None:
        projected = projected.clamp(*value_range)
    return projected


def fgsm(
    *,
    network: nn.Module,
    image: np.ndarray,
    loss: OutputLoss,
    epsilon: float,
    to_network_input: NetworkInputMap = _unchanged,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Fast gradient sign method: one step of size epsilon along sign(grad of the loss).

    Promises: same shape, float32, input untouched, |result - image| <= epsilon everywhere,
    and inside `value_range` when given (e.g. the 12-bit HU range).
    """
    network.eval()
    original = _image_tensor(image)
    gradient = _loss_gradient(
        network=network, image=original, loss=loss, to_network_input=to_network_input
    )
    adversarial = _project(
        original + epsilon * gradient.sign(),
        original=original,
        epsilon=epsilon,
        value_range=value_range,
    )
    return adversarial.detach().reshape(image.shape).numpy().astype(np.float32)


def pgd(
    *,
    network: nn.Module,
    image: np.ndarray,
    loss: OutputLoss,
    epsilon: float,
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = False,
    seed: int = 0,
    to_network_input: NetworkInputMap = _unchanged,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Projected gradient descent (ascent on the loss): `steps` signed-gradient steps.

    Each step moves by `step_size` (default 2.5 epsilon / steps, Madry et al.) along the
    sign of the gradient and is projected back onto the epsilon ball (and `value_range`).
    Without a random start the first step follows FGSM's direction from the clean image,
    and the later steps follow the loss where FGSM's single step assumes it is linear, so
    at the same epsilon PGD is the stronger attack (Madry et al.). Returns the iterate with
    the highest loss seen, so its loss is never below the starting point's. Same promises
    as `fgsm`.
    """
    network.eval()
    original = _image_tensor(image)
    size = step_size if step_size is not None else 2.5 * epsilon / max(steps, 1)
    current = original.clone()
    if random_start:
        generator = torch.Generator().manual_seed(seed)
        noise = (torch.rand(original.shape, generator=generator) * 2.0 - 1.0) * epsilon
        current = _project(
            original + noise, original=original, epsilon=epsilon, value_range=value_range
        )

    def loss_of(candidate: torch.Tensor) -> float:
        with torch.no_grad():
            return float(loss(network(to_network_input(candidate))))

    best, best_loss = current, loss_of(current)
    for _ in range(steps):
        gradient = _loss_gradient(
            network=network, image=current, loss=loss, to_network_input=to_network_input
        )
        current = _project(
            current + size * gradient.sign(),
            original=original,
            epsilon=epsilon,
            value_range=value_range,
        ).detach()
        current_loss = loss_of(current)
        if current_loss > best_loss:
            best, best_loss = current, current_loss
    return best.detach().reshape(image.shape).numpy().astype(np.float32)
