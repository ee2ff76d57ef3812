"""Reaching the plain module inside the wrappers the trainer adds."""

from __future__ import annotations

import torch


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP / torch.compile wrappers (FSDP2 shards in place: no wrapper)."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            return model
        model = inner


def model_device(model: torch.nn.Module) -> torch.device:
    return next(unwrap(model).parameters()).device
