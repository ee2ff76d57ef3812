"""Random placement of units (``MaskConfig.unit_placement = "random"``): SpanBERT's control.

Whole-unit masks (the word level, the phrase level on given phrase units) hide spans whose
lengths follow the units'. To tell what the *positions* of the units are worth from what their
*lengths* are worth, the control keeps each row's unit lengths exactly (the same multiset) and
lays them out again in a random order from the row's first byte: the spans are as long as the
model's (or whitespace) units, but their edges fall anywhere. The order is a pure function of
(seed, sample, time) through the counter-based hash, like every other draw.
"""

from __future__ import annotations

import torch

from bitmask.hashrng import U24, Stream, draw_u24
from bitmask.units import Units


def unit_lengths(units: Units, valid: torch.Tensor) -> torch.Tensor:
    """long [B, U]: valid bytes of each unit (0 past a row's count)."""
    batch = valid.shape[0]
    sums = torch.zeros(batch, units.max_units + 1, dtype=torch.int64, device=valid.device)
    sums.scatter_add_(1, units.unit_id + 1, valid.to(torch.int64))  # column 0 collects padding
    return sums[:, 1:]


def shuffled_starts(
    units: Units, valid: torch.Tensor, keys: torch.Tensor, stream: Stream
) -> torch.Tensor:
    """bool [B, L]: starts of the row's units laid out in a random order (lengths kept).

    Laid out over the valid bytes in order (padding skipped), so a row that padding breaks keeps
    its lengths too; ``segment`` then adds the forced start after the padding."""
    batch, length = valid.shape
    if batch == 0 or length == 0:
        return torch.zeros_like(valid)
    lengths = unit_lengths(units, valid)  # [B, U]
    slots = torch.arange(units.max_units, device=valid.device)
    present = slots[None, :] < units.count[:, None]  # [B, U]
    draws = draw_u24(keys, stream, slots)  # [B, U] in [0, 2^24)
    order = torch.sort(torch.where(present, draws, U24), dim=1, stable=True).indices
    shuffled = lengths.gather(1, order)  # [B, U], the absent (length 0) units last
    first = torch.cumsum(shuffled, dim=1) - shuffled  # each unit's first valid-byte index
    at = torch.where(shuffled > 0, first, length).clamp_max(length)  # absent -> the spare column
    flags = torch.zeros(batch, length + 1, dtype=torch.bool, device=valid.device)
    flags.scatter_(1, at, True)
    valid_index = (torch.cumsum(valid.to(torch.int64), dim=1) - 1).clamp_min(0)  # [B, L]
    return flags[:, :length].gather(1, valid_index) & valid
