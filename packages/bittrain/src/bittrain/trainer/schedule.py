"""The run's schedule: how many steps, the learning rate at each, and when to stop.

The learning rate is linear warm-up, then cosine decay to ``min_lr_ratio * lr``: a pure function
of the step, so resuming at step s gives exactly the learning rate of an uninterrupted run.
A FLOP budget (``max_flops``) is laid over steps before the run starts: the schedule (and the
task's curriculum) spans the largest number of steps whose planned FLOPs fit the budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from bittrain.errors import BittrainError
from bittrain.trainer.config import TrainConfig


def lr_at(step: int, *, lr: float, warmup_steps: int, max_steps: int, min_lr_ratio: float) -> float:
    """The learning rate for optimizer step ``step`` (0-based: the first update is step 0)."""
    if warmup_steps > 0 and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    decay_steps = max(max_steps - warmup_steps, 1)
    progress = min(max((step - warmup_steps) / decay_steps, 0.0), 1.0)
    floor = lr * min_lr_ratio
    return floor + (lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer, value: float) -> None:  # optimizer: torch.optim.Optimizer
    for group in optimizer.param_groups:
        group["lr"] = value


def steps_for_budget(
    planned_flops: Callable[[int], float], max_flops: float, max_steps: int
) -> int:
    """The largest T <= max_steps with planned_flops(T) <= max_flops (planned_flops grows with T)."""
    if planned_flops(1) > max_flops:
        raise BittrainError(
            f"max_flops = {max_flops:.3g} buys no step: one step costs {planned_flops(1):.3g} "
            "FLOPs; raise --max-flops or shrink the batch"
        )
    low, high = 1, max_steps
    while low < high:
        mid = (low + high + 1) // 2
        if planned_flops(mid) <= max_flops:
            low = mid
        else:
            high = mid - 1
    return low


@dataclass(frozen=True)
class Schedule:
    """Steps, learning rate and the stop conditions of one run."""

    total_steps: int
    lr: float
    warmup_steps: int
    min_lr_ratio: float
    max_minutes: float = 0.0
    max_flops: float = 0.0

    @classmethod
    def of(cls, config: TrainConfig, total_steps: int) -> Schedule:
        return cls(
            total_steps=total_steps,
            lr=config.lr,
            warmup_steps=config.warmup_steps,
            min_lr_ratio=config.min_lr_ratio,
            max_minutes=config.max_minutes,
            max_flops=config.max_flops,
        )

    def lr_at(self, step: int) -> float:
        return lr_at(
            step,
            lr=self.lr,
            warmup_steps=self.warmup_steps,
            max_steps=self.total_steps,
            min_lr_ratio=self.min_lr_ratio,
        )

    def time_up(self, elapsed_s: float) -> bool:
        return self.max_minutes > 0 and elapsed_s >= self.max_minutes * 60.0

    def flops_spent(self, train_flops: float) -> bool:
        return self.max_flops > 0 and train_flops >= self.max_flops

    def remaining_s(self, step: int, start_step: int, run_s: float, elapsed_s: float) -> float:
        """ETA: the steps left at this run's pace, capped by the time limit."""
        remaining = (self.total_steps - step) * run_s / max(step - start_step, 1)
        if self.max_minutes > 0:
            remaining = min(remaining, self.max_minutes * 60.0 - elapsed_s)
        return remaining
