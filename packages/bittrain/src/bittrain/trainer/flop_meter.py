"""Training FLOPs: every forward a step makes, cumulative over the run.

Each micro-batch's ``TaskLoss.flops`` (the task's analytic count: passes with gradients 3x,
no-grad passes 1x) is summed over micro-batches and ranks. On the first step of every curriculum
phase the whole step also runs under torch's ``FlopCounterMode`` (bittrain.engine.flop_count) (forward and backward of every
micro-batch, boundary passes included), so each metrics row of such a step carries both
``step_flops`` (analytic) and ``step_flops_measured``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch.utils.flop_counter import FlopCounterMode

from bittrain.engine.flop_count import flop_counter_mode
from bittrain.trainer.dist import DistContext


class FlopMeter:
    def __init__(self, ctx: DistContext, train_flops: float = 0.0) -> None:
        self.ctx = ctx
        self.train_flops = float(train_flops)  # cumulative, all ranks
        self._counter: FlopCounterMode | None = None

    def should_measure(self, phase: int, previous_phase: int | None) -> bool:
        """The first step of the run (no previous phase) and of every later phase."""
        return previous_phase is None or phase != previous_phase

    @contextlib.contextmanager
    def measuring(self, enabled: bool) -> Iterator[None]:
        if not enabled:
            self._counter = None
            yield
            return
        self._counter = flop_counter_mode()
        with self._counter:
            yield

    def step_done(self, local_flops: float) -> dict[str, float]:
        """Add one step (this rank's analytic FLOPs); returns the row fields of the step."""
        values = [float(local_flops)]
        if self._counter is not None:
            values.append(float(self._counter.get_total_flops()))
        summed = self.ctx.all_reduce_sum(torch.tensor(values, dtype=torch.float64)).tolist()
        self.train_flops += summed[0]
        fields = {"train_flops": self.train_flops}
        if self._counter is not None:
            fields.update(step_flops=summed[0], step_flops_measured=summed[1])
        self._counter = None
        return fields
