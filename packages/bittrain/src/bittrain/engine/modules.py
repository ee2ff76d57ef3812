"""Reaching the plain module inside the wrappers the trainer adds, and running it in eval mode."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

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


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module | None) -> Iterator[None]:
    """``model`` in eval mode inside the block, back in the train/eval mode it had afterwards
    (also on an error); None does nothing."""
    if model is None:
        yield
        return
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
