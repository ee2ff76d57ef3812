"""The machine's own matmul rate and training steps timed against it, in one process.

On shared cores other processes only ever add time, and they come and go: every timed step is
paired with a reference measured just before it (the best of a few 1024^3 fp32 matmuls), so a
burst of load hits both. The ratio is best step rate over best matmul rate; the per-round
ratios give the spread.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

REFERENCE_SIZE = 1024  # the reference is a [N, N] @ [N, N] fp32 matmul
REFERENCE_REPEATS = 3


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class MatmulReference:
    """FLOP/s of a 1024^3 fp32 matmul (2 N^3 FLOPs) on ``device``, best of a few calls."""

    def __init__(self, device: torch.device, size: int = REFERENCE_SIZE) -> None:
        g = torch.Generator().manual_seed(0)
        self.a = torch.randn(size, size, generator=g).to(device)
        self.b = torch.randn(size, size, generator=g).to(device)
        self.out = torch.empty(size, size, device=device)
        self.device = device
        self.flops = 2.0 * size**3
        self.rate()  # warm-up: thread pool, kernels

    def rate(self, repeats: int = REFERENCE_REPEATS) -> float:
        best = float("inf")
        for _ in range(repeats):
            _sync(self.device)
            start = time.perf_counter()
            torch.mm(self.a, self.b, out=self.out)
            _sync(self.device)
            best = min(best, time.perf_counter() - start)
        return self.flops / best


@dataclass(frozen=True)
class Round:
    """One timed training step and the reference measured just before it."""

    seconds: float
    flops: float  # the task's count for this step
    matmul_flops_per_s: float

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.seconds

    @property
    def ratio(self) -> float:
        return self.flops_per_s / self.matmul_flops_per_s


def timed_rounds(step: Callable[[], float], reference: MatmulReference, rounds: int) -> list[Round]:
    """``rounds`` x (reference rate, one timed ``step()``); ``step`` returns its FLOPs."""
    out = []
    for _ in range(rounds):
        rate = reference.rate()
        start = time.perf_counter()
        flops = step()  # synchronises with the device itself
        out.append(Round(time.perf_counter() - start, flops, rate))
    return out


@dataclass(frozen=True)
class Timing:
    """What the rounds say: best step, best reference, their ratio and the spread."""

    rounds: tuple[Round, ...]

    @property
    def best_seconds(self) -> float:
        return min(r.seconds for r in self.rounds)

    @property
    def flops_per_s(self) -> float:
        return max(r.flops_per_s for r in self.rounds)

    @property
    def matmul_flops_per_s(self) -> float:
        return max(r.matmul_flops_per_s for r in self.rounds)

    @property
    def ratio(self) -> float:
        return self.flops_per_s / self.matmul_flops_per_s

    @property
    def ratio_spread(self) -> tuple[float, float, float]:
        """(min, median, max) of the per-round ratios (each step against its own reference)."""
        ratios = [r.ratio for r in self.rounds]
        return min(ratios), statistics.median(ratios), max(ratios)

    @property
    def mean_flops(self) -> float:
        return statistics.fmean(r.flops for r in self.rounds)
