"""Fault injection for the end-to-end tests (documented, off unless the variable is set).

``BITLAB_TRAIN_FAULT`` holds comma-separated actions:

- ``kill@N``: the worker sends itself SIGKILL when it is about to run step N (1-based), on the
  first attempt only (``TORCHELASTIC_RESTART_COUNT`` = 0); ``kill@N:R`` only on global rank R.
- ``nan@N``: the loss of step N becomes NaN (to test the NaN stop).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

ENV = "BITLAB_TRAIN_FAULT"


@dataclass(frozen=True)
class Faults:
    kill_step: int | None = None
    kill_rank: int | None = None
    nan_step: int | None = None

    @classmethod
    def from_env(cls) -> Faults:
        text = os.environ.get(ENV, "").strip()
        kill_step = kill_rank = nan_step = None
        for item in filter(None, (part.strip() for part in text.split(","))):
            action, _, where = item.partition("@")
            step, _, rank = where.partition(":")
            if action == "kill":
                kill_step, kill_rank = int(step), (int(rank) if rank else None)
            elif action == "nan":
                nan_step = int(step)
        return cls(kill_step, kill_rank, nan_step)

    def maybe_kill(self, step: int, rank: int, restart_count: int) -> None:
        if self.kill_step is None or step != self.kill_step or restart_count > 0:
            return
        if self.kill_rank is not None and rank != self.kill_rank:
            return
        os.kill(os.getpid(), signal.SIGKILL)

    def poison(self, step: int) -> bool:
        return self.nan_step is not None and step == self.nan_step
