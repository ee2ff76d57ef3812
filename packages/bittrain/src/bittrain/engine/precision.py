"""Numeric precision of forwards, applied the same way to every model kind (by the trainer and
by evaluation, never by one task alone): ``auto`` = bf16 autocast on CUDA, fp32 on CPU."""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("auto", "fp32", "bf16")


def autocast(
    device: torch.device | str, precision: str = "auto"
) -> contextlib.AbstractContextManager:
    device = torch.device(device)
    if precision not in PRECISIONS:
        raise ValueError(f"precision '{precision}' is unknown: use one of {PRECISIONS}")
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return torch.autocast(device.type, enabled=False)
