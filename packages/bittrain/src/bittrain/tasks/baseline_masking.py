"""Reproducible BERT-style masking for the token-level baselines.

A unit's fate (selected or not, then [MASK] / random / kept) depends only on
(seed, sample index, step, position), never on the batch it sits in or on the device, so that
runs resume exactly and ranks draw independent masks without talking to each other. The
uniform numbers come from a counter-based integer hash evaluated in int64 tensors, all ops
vectorised on the input's device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_MASK32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """murmur3's 32-bit finaliser on int64 tensors holding values in [0, 2**32)."""
    # Every product stays below 2**63: operands are < 2**32 and the constants < 2**31.
    x = x ^ (x >> 16)
    x = ((x & 0xFFFF) * 0x85EBCA6B + (((x >> 16) * 0x85EBCA6B & 0xFFFF) << 16)) & _MASK32
    x = x ^ (x >> 13)
    x = ((x & 0xFFFF) * 0xC2B2AE35 + (((x >> 16) * 0xC2B2AE35 & 0xFFFF) << 16)) & _MASK32
    x = x ^ (x >> 16)
    return x


def hash_uniform(
    seed: int, sample_index: torch.Tensor, step: int, length: int, stream: int
) -> torch.Tensor:
    """Uniform floats in [0, 1), float32 [B, length], a pure function of its arguments.

    sample_index: long [B] (global sample ids). ``stream`` separates independent draws
    (selection, replacement kind, random id) made for the same positions.
    """
    device = sample_index.device
    pos = torch.arange(length, device=device, dtype=torch.int64)  # [L]
    row = sample_index.to(torch.int64).reshape(-1, 1) & _MASK32  # [B, 1]
    key = _mix32(
        torch.full(
            (),
            (seed * 0x9E3779B1 + stream * 0x7F4A7C15) & _MASK32,
            dtype=torch.int64,
            device=device,
        )
    )
    key = _mix32(key ^ (step & _MASK32))
    h = _mix32(row ^ key)  # [B, 1]
    h = _mix32((h + pos.reshape(1, -1) * 0x27D4EB2F) & _MASK32)  # [B, L]
    h = _mix32(h ^ key)
    return (h >> 8).to(torch.float32) / float(1 << 24)


@dataclass(frozen=True)
class TokenMask:
    """The masking decision for a batch of unit sequences (bytes or BPE tokens).

    ``selected`` bool [B, T]: units the loss is computed on. ``input_ids`` long [B, T]: what the
    model sees (selected units replaced by [MASK], a random id, or kept).
    """

    input_ids: torch.Tensor
    selected: torch.Tensor


@dataclass(frozen=True)
class MaskDraw:
    """Which units one scoring call hides: ``rate`` of them, drawn from (seed, sample index,
    step); BERT's 80/10/10 [MASK] / random / kept when ``train``, all [MASK] otherwise (pure
    masked prediction, for validation and evaluation)."""

    rate: float
    seed: int
    sample_index: torch.Tensor  # long [B]: global sample ids
    step: int = 0
    train: bool = False

    def mask(
        self,
        ids: torch.Tensor,
        maskable: torch.Tensor,
        *,
        mask_id: int,
        random_low: int,
        random_high: int,
    ) -> TokenMask:
        """``mask_units`` of ids long [B, T] with this draw."""
        return mask_units(
            ids,
            maskable,
            rate=self.rate,
            mask_id=mask_id,
            random_low=random_low,
            random_high=random_high,
            seed=self.seed,
            sample_index=self.sample_index,
            step=self.step,
            mask_prob=0.8 if self.train else 1.0,
            random_prob=0.1 if self.train else 0.0,
        )


def mask_units(
    ids: torch.Tensor,
    maskable: torch.Tensor,
    *,
    rate: float,
    mask_id: int,
    random_low: int,
    random_high: int,
    seed: int,
    sample_index: torch.Tensor,
    step: int,
    mask_prob: float = 0.8,
    random_prob: float = 0.1,
) -> TokenMask:
    """Select ``rate`` of the maskable units; show [MASK] / a random id / the truth 80/10/10.

    ids long [B, T]; maskable bool [B, T] (False on padding and specials). Random ids are drawn
    from [random_low, random_high). At least one unit per row with any maskable unit is selected,
    so every sample contributes to the loss. ``mask_prob=1, random_prob=0`` gives the pure
    masking used for evaluation.
    """
    B, T = ids.shape
    u_select = hash_uniform(seed, sample_index, step, T, stream=1)  # [B, T]
    selected = (u_select < rate) & maskable
    # Rows with maskable units but nothing drawn: take their lowest-u maskable unit.
    empty = ~selected.any(dim=1) & maskable.any(dim=1)  # [B]
    if bool(empty.any()):
        u_masked = torch.where(maskable, u_select, torch.full_like(u_select, 2.0))
        first = u_masked.argmin(dim=1)  # [B]
        forced = torch.zeros_like(selected)
        forced[torch.arange(B, device=ids.device), first] = True
        selected = selected | (forced & empty.reshape(-1, 1))
    u_kind = hash_uniform(seed, sample_index, step, T, stream=2)  # [B, T]
    u_rand = hash_uniform(seed, sample_index, step, T, stream=3)  # [B, T]
    span = max(random_high - random_low, 1)
    random_ids = random_low + (u_rand * span).long().clamp_(max=span - 1)  # [B, T]
    as_mask = selected & (u_kind < mask_prob)
    as_random = selected & (u_kind >= mask_prob) & (u_kind < mask_prob + random_prob)
    shown = torch.where(as_mask, torch.full_like(ids, mask_id), ids)
    shown = torch.where(as_random, random_ids, shown)
    return TokenMask(input_ids=shown, selected=selected)
