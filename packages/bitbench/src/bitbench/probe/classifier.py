"""Multinomial logistic regression on frozen features, in torch, deterministic.

Features are standardised with the training mean and standard deviation; weights start at zero
and are fitted full-batch with L-BFGS (strong Wolfe line search) on the mean cross-entropy plus
``l2`` times the squared weight norm, in float64. Same inputs, same result, on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bitbench.errors import BitbenchError


@dataclass(frozen=True)
class LinearProbe:
    mean: np.ndarray  # [D]
    std: np.ndarray  # [D]
    weight: np.ndarray  # [C, D]
    bias: np.ndarray  # [C]
    train_loss: float

    def logits(self, features: np.ndarray) -> np.ndarray:
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.std  # [N, D]
        return z @ self.weight.T + self.bias  # [N, C]

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.logits(features).argmax(axis=1)


def fit_linear_probe(
    features: np.ndarray, targets: np.ndarray, num_classes: int, *, l2: float = 1e-3,
    max_iter: int = 300,
) -> LinearProbe:  # fmt: skip
    """features float [N, D], targets int [N] in [0, num_classes)."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.int64)
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise BitbenchError(
            f"probe needs features [N, D] and N labels, got {x.shape} and {y.shape}"
        )
    if not np.isfinite(x).all():
        raise BitbenchError("the model's features contain NaN or infinity: check the run")
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    xt = torch.from_numpy((x - mean) / std)  # [N, D]
    yt = torch.from_numpy(y)
    weight = torch.zeros(num_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=max_iter, tolerance_grad=1e-9, tolerance_change=1e-12,
        history_size=20, line_search_fn="strong_wolfe",
    )  # fmt: skip

    def objective() -> torch.Tensor:
        logits = xt @ weight.T + bias  # [N, C]
        return torch.nn.functional.cross_entropy(logits, yt) + l2 * (weight**2).sum()

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        final = float(objective())
    return LinearProbe(
        mean, std, weight.detach().numpy().copy(), bias.detach().numpy().copy(), final
    )
