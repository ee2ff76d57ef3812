"""Reaching the plain module inside the wrappers the trainer adds, running it in eval mode, and
counting its lookup parameters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch._dynamo.eval_frame import OptimizedModule
from torch.nn.parallel import DistributedDataParallel


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP / torch.compile wrappers (FSDP2 shards in place: no wrapper)."""
    while True:
        if isinstance(model, DistributedDataParallel):
            model = model.module
        elif isinstance(model, OptimizedModule):  # torch.compile's wrapper
            model = model._orig_mod
        else:
            return model


def lookup_parameters(model: torch.nn.Module) -> int:
    """Parameters of the embedding tables in ``model`` (nn.Embedding, nn.EmbeddingBag): memory a
    forward reads by lookup, at no multiply-add cost (token embeddings, bitswin's n-gram and
    code tables), reported beside the parameter count and the FLOPs."""
    tables = (torch.nn.Embedding, torch.nn.EmbeddingBag)
    return sum(
        p.numel()
        for m in unwrap(model).modules()
        if isinstance(m, tables)
        for p in m.parameters(recurse=False)
    )


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
