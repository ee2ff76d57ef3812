"""The pieces of one optimizer step that the Trainer's loop and `bitlab bench train` share, so
that the bench times what training runs: a micro-batch's inputs on the device, the loss and
metrics brought to the host in one copy, gradient clipping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch.distributed.tensor import DTensor

from bittrain.trainer.data import draw_windows


def micro_inputs(
    split, ids: np.ndarray, seq_len: int, seed: int, batch_size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """windows uint8 [b, L], doc_starts bool [b, L] and the sample ids long [b], on ``device``,
    for the global sample ``ids`` (``bittrain.trainer.data.draw_windows``)."""
    w, d = draw_windows(split, ids, seq_len, seed, batch_size)
    windows = torch.from_numpy(w).to(device)
    doc_starts = torch.from_numpy(d).to(device)
    return windows, doc_starts, torch.from_numpy(ids).to(device)


def host_values(
    loss: torch.Tensor, metrics: Mapping[str, float | torch.Tensor]
) -> tuple[float, dict[str, float]]:
    """The loss and every metric as Python floats, in one device->host copy (no sync each)."""
    keys = sorted(metrics)
    values = [loss.detach().float().reshape(())]
    values += [
        torch.as_tensor(metrics[k], dtype=torch.float32, device=loss.device).reshape(())
        for k in keys
    ]
    host = torch.stack(values).cpu().tolist()
    return host[0], dict(zip(keys, host[1:], strict=True))


def clip_gradients(parameters: Iterable[torch.nn.Parameter], grad_clip: float) -> float:
    """Clip the gradients' global norm to ``grad_clip`` (<= 0: no clipping); the norm before."""
    max_norm = grad_clip if grad_clip > 0 else float("inf")
    norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    if isinstance(norm, DTensor):  # FSDP2
        norm = norm.full_tensor()
    return float(norm)
