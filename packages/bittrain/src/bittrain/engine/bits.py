"""Bits of the true unit: the one scoring step every model kind shares (training validation,
evaluation under the protocols, the baselines' masked scores)."""

from __future__ import annotations

import math

import torch

LN2 = math.log(2.0)


def target_bits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log2 p(target) per position: ``logits`` [..., V] (any float dtype), ``targets`` long
    [...] -> float32 [...] (the softmax in float32, whatever the autocast)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1) / LN2
