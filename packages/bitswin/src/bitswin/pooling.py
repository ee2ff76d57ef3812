"""Items -> units (pooling) and units -> items (upsampling), given a level's unit starts.

Unit k of a row is the run of items from its k-th start to the item before the next start.
Pooling: LayerNorm, then [mean of the unit's items, its first item] -> Linear, plus an
embedding of the unit's length (DTP's mean pooling, SpaceByte's / H-Net's "first item").
Upsampling: each item gets its unit's vector (Linear), times the router's straight-through
factor (H-Net's ``out * STE(selected_probs)``: 1 in value, the router's gradient path), added to
the encoder output of the item (the residual). Bidirectional, so no causal shift and no EMA.
Items outside any unit (padding) are routed to a scratch slot and get zeros back.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

MAX_LENGTH_EMBED = 32  # unit lengths >= this share one length embedding


@dataclass
class UnitIndex:
    """Which unit each item belongs to, and the units' own facts."""

    unit_of: torch.Tensor  # long [B, N]: unit index, `slots` for items outside every unit
    count: torch.Tensor  # long [B, slots]: items per unit (0 for empty slots)
    first: torch.Tensor  # long [B, slots]: index of each unit's first item (0 for empty slots)
    valid: torch.Tensor  # bool [B, slots]
    slots: int


def unit_index(starts: torch.Tensor, valid: torch.Tensor, slots: int) -> UnitIndex:
    """starts, valid: bool [B, N] (every valid run begins with a start)."""
    b, n = starts.shape
    unit_of = torch.cumsum(starts.long(), dim=1) - 1  # [B, N]
    inside = valid & (unit_of >= 0) & (unit_of < slots)
    unit_of = torch.where(inside, unit_of, torch.full_like(unit_of, slots))
    count = torch.zeros(b, slots + 1, dtype=torch.long, device=starts.device)
    count.scatter_add_(1, unit_of, inside.long())
    pos = torch.arange(n, device=starts.device).expand(b, n)
    first = torch.zeros(b, slots + 1, dtype=torch.long, device=starts.device)
    first.scatter_(1, torch.where(starts & inside, unit_of, slots), pos)
    count, first = count[:, :slots], first[:, :slots]
    return UnitIndex(unit_of, count, first, count > 0, slots)


def gather_items(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x [B, N, D], index long [B, M] -> [B, M, D]."""
    return torch.gather(x, 1, index[..., None].expand(*index.shape, x.shape[-1]))


def unit_sums(values: torch.Tensor, index: UnitIndex) -> torch.Tensor:
    """Per-item values [B, N] (long) -> their sum over each unit [B, slots]."""
    out = torch.zeros(values.shape[0], index.slots + 1, dtype=values.dtype, device=values.device)
    out.scatter_add_(1, index.unit_of, values)
    return out[:, : index.slots]


class UnitPool(nn.Module):
    """[B, N, D_in] items -> [B, slots, D_out] units."""

    def __init__(self, d_in: int, d_out: int, eps: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_in, eps=eps)
        self.proj = nn.Linear(2 * d_in, d_out)
        self.length = nn.Embedding(MAX_LENGTH_EMBED, d_out)
        nn.init.normal_(self.length.weight, std=0.02)

    def forward(self, x: torch.Tensor, index: UnitIndex) -> torch.Tensor:
        b, _, d = x.shape
        h = self.norm(x)
        sums = torch.zeros(b, index.slots + 1, d, dtype=h.dtype, device=h.device)
        sums.scatter_add_(1, index.unit_of[..., None].expand(-1, -1, d), h)
        mean = sums[:, : index.slots] / index.count.clamp_min(1)[..., None].to(h.dtype)
        first = gather_items(h, index.first)  # [B, slots, D_in]
        units = self.proj(torch.cat([mean, first], dim=-1))  # [B, slots, D_out]
        units = units + self.length(index.count.clamp(max=MAX_LENGTH_EMBED - 1))
        return units * index.valid[..., None].to(units.dtype)


class UnitUpsample(nn.Module):
    """[B, slots, D_unit] units + [B, N, D] encoder output -> [B, N, D]."""

    def __init__(self, d_unit: int, d_item: int) -> None:
        super().__init__()
        self.proj = nn.Linear(d_unit, d_item)

    def forward(
        self,
        units: torch.Tensor,
        residual: torch.Tensor,
        index: UnitIndex,
        ste: torch.Tensor | None,
    ) -> torch.Tensor:
        up = self.proj(units)  # [B, slots, D] (per unit: cheaper than per item)
        up = torch.cat([up, up.new_zeros(up.shape[0], 1, up.shape[2])], dim=1)  # scratch slot
        per_item = gather_items(up, index.unit_of)  # [B, N, D]
        if ste is not None:
            per_item = per_item * ste[..., None].to(per_item.dtype)
        return residual + per_item
