"""Units for word and phrase masks: where they start, and which unit each byte belongs to.

Sources (``boundaries`` of ``make_masks``):
- ``"whitespace"``: bitcodec's word starts (first byte of each run of non-space characters);
- ``"class"``: bitcodec's class-change starts (also splits punctuation, digits, CJK characters);
- a float tensor [B, L] of unit-start scores (the model's boundary scores or prediction
  entropy): in each row the ``round(n_valid / target_unit_bytes)`` highest-scoring valid
  positions start units (ties go to the earlier position), so the mean unit length stays near
  the target whatever the scale of the scores: segmentation cannot collapse or explode;
- a bool tensor [B, L] of unit starts, used as given (the units a model computes with, e.g.
  ``BitSwinModel.units(...).unit_starts``).

Whatever the source, the first valid byte of a row and the first valid byte after padding start
a unit, and a unit runs to the byte before the next start (a word unit therefore carries its
trailing spaces). Padding belongs to no unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bitmask.errors import BitmaskError
from bitmask.facts_torch import SPACE, TorchFacts


@dataclass(frozen=True)
class Units:
    """Segmentation of a batch into units.

    start: bool [B, L] (unit starts, only at valid bytes); unit_id: long [B, L] (index of the
    byte's unit within its row, -1 at padding); count: long [B] units per row; maskable: bool
    [B, U] (the unit holds a non-space byte); U >= max(count) (at least 1; units past a row's
    count are empty). Draws are per unit index, so U never changes a mask.
    """

    start: torch.Tensor
    unit_id: torch.Tensor
    count: torch.Tensor
    maskable: torch.Tensor

    @property
    def max_units(self) -> int:
        return int(self.maskable.shape[1])


def starts_from_scores(
    scores: torch.Tensor, valid: torch.Tensor, target_unit_bytes: float
) -> torch.Tensor:
    """Bool [B, L]: the top round(n_valid / target) valid positions of each row by score."""
    if scores.dtype.is_floating_point is False:
        raise BitmaskError(
            f"boundary scores have dtype {scores.dtype}: pass a float tensor [B, L] of unit-start "
            "scores, a bool tensor [B, L] of unit starts, or 'whitespace' / 'class'"
        )
    scores = scores.to(torch.float32)
    if not bool(torch.isfinite(scores[valid]).all()):
        raise BitmaskError(
            "boundary scores contain NaN or infinity at valid bytes: pass finite scores"
        )
    n_valid = valid.sum(dim=1)  # [B]
    wanted = torch.round(n_valid.to(torch.float64) / float(target_unit_bytes)).to(torch.int64)
    wanted = torch.minimum(wanted.clamp_min(1), n_valid)  # [B]
    ranked = torch.where(valid, scores, torch.full_like(scores, float("-inf")))
    order = torch.sort(ranked, dim=1, descending=True, stable=True).indices  # [B, L]
    rank = torch.empty_like(order)
    positions = torch.arange(scores.shape[1], device=scores.device).expand_as(order)
    rank.scatter_(1, order, positions)  # rank[b, order[b, r]] = r
    return (rank < wanted[:, None]) & valid


def segment(
    valid: torch.Tensor,
    facts: TorchFacts,
    boundaries: str | torch.Tensor,
    target_unit_bytes: float,
) -> Units:
    """Units of the batch from a boundary source (see the module doc)."""
    if isinstance(boundaries, str):
        if boundaries == "whitespace":
            prior = facts.word_start
        elif boundaries == "class":
            prior = facts.class_change_start
        else:
            raise BitmaskError(
                f"boundaries = {boundaries!r}: use 'whitespace', 'class' or a float tensor "
                "[B, L] of unit-start scores"
            )
        start = prior & valid
    else:
        if boundaries.shape != valid.shape:
            raise BitmaskError(
                f"boundary scores have shape {tuple(boundaries.shape)} but the bytes are "
                f"{tuple(valid.shape)}: pass one score (or unit-start flag) per byte"
            )
        if boundaries.dtype == torch.bool:
            start = boundaries.to(valid.device) & valid
        else:
            start = starts_from_scores(boundaries.to(valid.device), valid, target_unit_bytes)
    # A valid byte after padding or at the row start always starts a unit.
    prev_valid = torch.cat([torch.zeros_like(valid[:, :1]), valid[:, :-1]], dim=1)
    start = start | (valid & ~prev_valid)

    unit_id = torch.cumsum(start, dim=1) - 1  # [B, L] long
    count = unit_id[:, -1] + 1 if unit_id.shape[1] else start.sum(dim=1)  # [B] units per row
    unit_id = unit_id.masked_fill(~valid, -1)
    if start.device.type == "cpu":  # reading the max is free on CPU and keeps [B, U] small
        max_units = max(int(count.max().item()) if count.numel() else 0, 1)
    else:  # on accelerators U = L: a row has at most L units, and no host sync is needed
        max_units = max(valid.shape[1], 1)
    # A unit is maskable at word level if it holds a byte that is not whitespace.
    non_space = (valid & (facts.char_class != SPACE)).to(torch.int64)
    holds = torch.zeros(valid.shape[0], max_units + 1, dtype=torch.int64, device=valid.device)
    holds.scatter_add_(1, unit_id + 1, non_space)  # column 0 collects padding
    maskable = holds[:, 1:] > 0
    return Units(start=start, unit_id=unit_id, count=count, maskable=maskable)


def char_level_scores(byte_batch: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Per-byte unit-start scores -> per-character scores, float [B, L].

    A unit can only start where a character starts. The score of a character is the sum of its
    bytes' scores (for surprisal-like scores: the character's surprisal), placed on its first
    byte; UTF-8 continuation bytes get the row's minimum minus one, so they rank below every
    character start. ASCII text is unchanged. Without this, multi-byte scripts put their highest
    scores on continuation bytes (the lead byte of a CJK character is easy to predict, the
    rest carry the information) and every predicted start would fall inside a character.
    """
    if byte_batch.shape != scores.shape:
        raise BitmaskError(
            f"byte_batch {tuple(byte_batch.shape)} and scores {tuple(scores.shape)} differ: "
            "pass one score per byte"
        )
    data = byte_batch.to(torch.int64)
    scores = scores.to(torch.float32)
    cont = (data & 0xC0) == 0x80  # [B, L] UTF-8 continuation bytes
    cont[:, 0] = False  # a row starting mid-character still needs a start
    char_id = torch.cumsum((~cont).to(torch.int64), dim=1) - 1  # [B, L] char index per byte
    sums = torch.zeros_like(scores).scatter_add_(1, char_id, scores)  # [B, n_chars <= L]
    per_byte = sums.gather(1, char_id)  # [B, L] the char's total on each of its bytes
    floor = scores.amin(dim=1, keepdim=True) - 1.0  # [B, 1]
    return torch.where(cont, floor.expand_as(scores), per_byte)
