"""Peak memory of tensors allocated while a function runs.

On CUDA: torch.cuda.max_memory_allocated. On CPU there is no allocator statistic, and process
RSS mixes in the allocator's caching, so a TorchDispatchMode watches every aten op: each output
storage is counted once while it is alive (a weak reference tells when it is freed), and the
peak of the live total is kept. This counts activations, temporaries and gradients made inside
the function (not parameters made before it); it misses scratch memory private to one kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class _LiveStorages(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.current = 0
        self.peak = 0

    def _sweep(self) -> None:
        dead = [key for key, (ref, _) in self.live.items() if ref.expired()]
        for key in dead:
            self.current -= self.live.pop(key)[1]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        self._sweep()
        for value in tree_flatten(out)[0]:
            if isinstance(value, torch.Tensor) and value.device.type == "cpu":
                storage = value.untyped_storage()
                key = storage._cdata
                if key not in self.live:
                    nbytes = storage.nbytes()
                    self.live[key] = (StorageWeakRef(storage), nbytes)
                    self.current += nbytes
        self.peak = max(self.peak, self.current)
        return out


def peak_memory_bytes(fn: Callable[[], Any], device: torch.device) -> int:
    """Runs fn() once and returns the peak bytes of tensor memory it allocated."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - before)
    tracker = _LiveStorages()
    with tracker:
        fn()
    return tracker.peak
