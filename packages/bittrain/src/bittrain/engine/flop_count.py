"""torch's FlopCounterMode, completed for the kernels it leaves out on CPU.

torch 2.13 counts scaled-dot-product attention only for its CUDA kernels (flash, efficient,
cuDNN); on CPU, SDPA with a mask runs ``_scaled_dot_product_flash_attention_for_cpu``, which the
counter would skip. The same formulas are registered for it here, so measured FLOPs mean the
same on both devices. Everything that checks a FLOP formula against the counter uses this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils import flop_counter

_aten = torch.ops.aten


def _as_registered(formula: Callable[..., int]) -> Callable[..., int]:
    """The module's formulas already take the op's raw arguments (they are registered through
    a shape wrapper): mark them so FlopCounterMode does not wrap them a second time."""

    def count(*args: Any, **kwargs: Any) -> int:
        return formula(*args, **kwargs)

    count._get_raw = True  # type: ignore[attr-defined]
    return count


CPU_ATTENTION = {
    _aten._scaled_dot_product_flash_attention_for_cpu: _as_registered(flop_counter.sdpa_flop),
    _aten._scaled_dot_product_flash_attention_for_cpu_backward: _as_registered(
        flop_counter.sdpa_backward_flop
    ),
}


def flop_counter_mode() -> flop_counter.FlopCounterMode:
    """A silent FlopCounterMode that also counts CPU attention (``get_total_flops()``)."""
    return flop_counter.FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION)
