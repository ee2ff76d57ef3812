"""Validation with its cadence: the task's metrics on the fixed validation windows every
``eval_every`` steps and at the end, under the run's precision.

DDP and single-process runs validate on rank 0 with the unwrapped module and broadcast the
result; FSDP2 runs validate on every rank with all the windows (each rank must take part in the
sharded forward), so the metrics are exactly those of one process.
"""

from __future__ import annotations

from typing import Any

import torch
from bitbench.engine import TrainTask, autocast, unwrap

from bitlab.training.config import TrainConfig
from bitlab.training.data import eval_windows
from bitlab.training.dist import DistContext


class Validator:
    def __init__(
        self, task: TrainTask, config: TrainConfig, ctx: DistContext, val_split: Any, fsdp: bool
    ) -> None:
        self.task = task
        self.every = config.eval_every
        self.precision = config.precision
        self.ctx = ctx
        self.fsdp = fsdp
        w, d = eval_windows(val_split, config.eval_windows, config.seq_len, config.eval_seed)
        self.windows = torch.from_numpy(w).to(ctx.device)  # uint8 [N, L]
        self.doc_starts = torch.from_numpy(d).to(ctx.device)  # bool [N, L]

    def should_validate(self, step: int, *, last: bool) -> bool:
        return last or (self.every > 0 and step % self.every == 0)

    def validate(self, model: torch.nn.Module) -> dict[str, float]:
        with autocast(self.ctx.device, self.precision):
            if self.fsdp:
                return self.task.validate(model, self.windows, self.doc_starts)
            result = None
            if self.ctx.is_main:
                result = self.task.validate(unwrap(model), self.windows, self.doc_starts)
        return self.ctx.broadcast_object(result)
