"""Learning-rate schedule: linear warm-up, then cosine decay to ``min_lr_ratio * lr``.

A pure function of the step, so the scheduler has no state beyond the step number the checkpoint
already holds (resuming at step s gives exactly the learning rate of an uninterrupted run).
"""

from __future__ import annotations

import math


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
