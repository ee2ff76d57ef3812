"""The probe's L2 strength, chosen by stratified k-fold cross-validation on the training split.

One fixed penalty suits no model: a small one overfits few, wide features, a large one pins a
weak encoder at the majority class. For each strength of a log-spaced grid (strongest first,
each fit warm-started from the previous one's weights) the probe is fitted on k-1 folds and
scored (accuracy, as scikit-learn's LogisticRegressionCV) on the held-out fold; the strength
with the best mean score wins, ties going to the stronger penalty (the simpler model). Folds are
stratified and a pure function of the seed. The test split is never looked at.

The objective is scikit-learn's: mean cross-entropy + l2 * ||W||^2 equals LogisticRegression's
C * sum(cross-entropy) + ||W||^2 / 2 divided by C * N, so ``l2 = 1 / (2 * C * N)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bitbench.errors import BitbenchError
from bitbench.probe.classifier import fit_linear_probe

DEFAULT_GRID: tuple[float, ...] = tuple(float(10.0**e) for e in range(-6, 2))  # 1e-6 .. 10
DEFAULT_FOLDS = 5


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """int64 [N]: the fold (0..k-1) of every sample; each class is dealt round-robin over the
    folds after a seeded shuffle, so every fold holds each class in proportion."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    offset = 0
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        fold[members] = (np.arange(len(members)) + offset) % k
        offset += len(members)  # the next class starts where this one stopped
    return fold


@dataclass(frozen=True)
class CVResult:
    """The grid, the score of every strength (mean and std over folds) and the choice."""

    chosen: float
    folds: int
    grid: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    scoring: str = "accuracy"
    seed: int = 0
    per_fold: tuple[tuple[float, ...], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen_l2": self.chosen,
            "folds": self.folds,
            "scoring": self.scoring,
            "seed": self.seed,
            "scores": [
                {"l2": l2, "mean": m, "std": s}
                for l2, m, s in zip(self.grid, self.mean, self.std, strict=True)
            ],
        }


def choose_l2(
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    *,
    grid: tuple[float, ...] = DEFAULT_GRID,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    max_iter: int = 300,
) -> CVResult:
    """Cross-validate every strength of ``grid`` on (x [N, D], y [N]); see the module doc."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    grid = tuple(sorted({float(g) for g in grid}, reverse=True))  # strongest first
    if not grid or min(grid) <= 0:
        raise BitbenchError(f"the L2 grid {list(grid)} must hold values > 0")
    k = min(int(folds), len(y))
    if k < 2:
        raise BitbenchError(
            f"cross-validation needs at least 2 folds and 2 training texts, got {folds} folds "
            f"and {len(y)} texts: give --l2 to fix the strength instead"
        )
    assignment = stratified_folds(y, k, seed)
    scores = np.zeros((len(grid), k), dtype=np.float64)
    for f in range(k):
        train, held = assignment != f, assignment == f
        if len(np.unique(y[train])) < 2:
            raise BitbenchError(
                f"fold {f + 1} of {k} trains on a single class: use fewer --cv-folds or "
                "more training texts"
            )
        init = None
        for i, l2 in enumerate(grid):
            probe = fit_linear_probe(
                x[train], y[train], num_classes, l2=l2, max_iter=max_iter, init=init
            )
            init = (probe.weight, probe.bias)
            scores[i, f] = float((probe.predict(x[held]) == y[held]).mean())
    mean, std = scores.mean(axis=1), scores.std(axis=1)
    best = int(np.flatnonzero(mean >= mean.max() - 1e-12)[0])  # first = strongest of the ties
    return CVResult(
        chosen=grid[best],
        folds=k,
        grid=grid,
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        seed=seed,
        per_fold=tuple(tuple(float(v) for v in row) for row in scores),
    )
