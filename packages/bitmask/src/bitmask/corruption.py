"""What is shown in place of the truth: BERT's 80/10/10 and ELECTRA-style replacements.

Both work on bytes [B, L] before they are spread into bits; targets always stay the true bytes.
All draws come from the counter-based RNG, per sample and position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bitmask.config import CorruptionConfig
from bitmask.errors import BitmaskError
from bitmask.hashrng import U24, Stream, bernoulli, draw_u24, threshold
from bitmask.units import Units


@dataclass(frozen=True)
class Shown:
    """shown_bytes long [B, L]: the value each byte is shown as where it is not MASK;
    as_mask bool [B, L]: selected bytes shown as MASK (all 8 bits)."""

    shown_bytes: torch.Tensor
    as_mask: torch.Tensor


def _positions(like: torch.Tensor) -> torch.Tensor:
    return torch.arange(like.shape[1], device=like.device)


def bert_80_10_10(
    keys: torch.Tensor, true_bytes: torch.Tensor, selected: torch.Tensor, cfg: CorruptionConfig
) -> Shown:
    """Of the ``selected`` bytes: bert_mask shown as MASK, bert_random as a random byte, rest kept."""
    choice = draw_u24(keys, Stream.BERT_CHOICE, _positions(true_bytes))  # [B, L]
    mask_cut = threshold(cfg.bert_mask)
    random_cut = threshold(cfg.bert_mask + cfg.bert_random)
    as_mask = selected & (choice < mask_cut)
    as_random = selected & (choice >= mask_cut) & (choice < random_cut)
    random_bytes = draw_u24(keys, Stream.BERT_RANDOM, _positions(true_bytes)) >> 16  # 0..255
    shown = torch.where(as_random, random_bytes, true_bytes)
    return Shown(shown_bytes=shown, as_mask=as_mask)


def _from_counts(counts: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
    """Sample byte values [B, L] from per-row byte counts [B, 256] with 24-bit draws [B, L]."""
    cdf = torch.cumsum(counts, dim=1)  # [B, 256]
    total = cdf[:, -1:]  # [B, 1]
    target = (draws * total) >> 24  # [B, L], uniform integer in [0, total)
    return torch.searchsorted(cdf, target, right=True).clamp_max(255)


def replacement_values(
    keys: torch.Tensor,
    true_bytes: torch.Tensor,
    valid: torch.Tensor,
    source: str,
    replacement_logits: torch.Tensor | None,
) -> torch.Tensor:
    """Long [B, L]: a plausible byte for every position (used only where a replacement is chosen)."""
    draws = draw_u24(keys, Stream.REPLACE_VALUE, _positions(true_bytes))  # [B, L]
    if source == "predictions":
        if replacement_logits is None:
            raise BitmaskError(
                "CorruptionConfig.replace_source is 'predictions' but make_masks got no "
                "replacement_logits: pass a float tensor [B, L, 256] (or use source 'row')"
            )
        expected = (*true_bytes.shape, 256)
        if tuple(replacement_logits.shape) != expected:
            raise BitmaskError(
                f"replacement_logits have shape {tuple(replacement_logits.shape)}: expected "
                f"{expected} (one 256-way distribution per byte)"
            )
        probs = torch.softmax(replacement_logits.detach().to(true_bytes.device).float(), dim=-1)
        cdf = torch.cumsum(probs, dim=-1)  # [B, L, 256]
        u = (draws.to(torch.float32) + 0.5) / U24  # [B, L] in (0, 1)
        return torch.searchsorted(cdf, u[..., None]).squeeze(-1).clamp_max(255)
    counts = torch.zeros(true_bytes.shape[0], 256, dtype=torch.int64, device=true_bytes.device)
    counts.scatter_add_(1, true_bytes, valid.to(torch.int64))  # byte histogram per row
    if source == "batch":
        counts = counts.sum(dim=0, keepdim=True).expand_as(counts)
    return _from_counts(counts, draws)


def electra_replace(
    keys: torch.Tensor,
    true_bytes: torch.Tensor,
    shown_bytes: torch.Tensor,
    valid: torch.Tensor,
    selected: torch.Tensor,
    units: Units,
    cfg: CorruptionConfig,
    replacement_logits: torch.Tensor | None,
) -> torch.Tensor:
    """Shown bytes [B, L] after replacing a fraction of the bytes or units not ``selected``."""
    candidates = valid & ~selected
    if cfg.replace_unit == "byte":
        chosen = bernoulli(keys, Stream.REPLACE_SELECT, _positions(true_bytes), cfg.replace_rate)
    else:
        unit_counters = torch.arange(units.max_units, device=true_bytes.device)
        per_unit = bernoulli(keys, Stream.REPLACE_SELECT, unit_counters, cfg.replace_rate)
        chosen = torch.gather(per_unit, 1, units.unit_id.clamp_min(0))
    chosen = chosen & candidates
    values = replacement_values(keys, true_bytes, valid, cfg.replace_source, replacement_logits)
    return torch.where(chosen, values, shown_bytes)
