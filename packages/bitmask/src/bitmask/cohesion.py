"""Units chosen by cohesion (``MaskConfig.unit_choice = "cohesion"``): PMI-style masking.

PMI-Masking (Levine et al. 2021) masks the spans whose parts predict each other most, so that a
masked span cannot be filled in from its own visible half. Here the word level (and the phrase
level on given phrase units) prefers such units:

- **join scores** float [B, L], passed to ``make_masks(cohesion=...)``: how strongly byte i is
  bound to the byte before it. ``join_scores`` gives the count-based one: the pointwise mutual
  information (bits) of the byte pair (i-1, i), ``log2 p(a, b) / (p(a) p(b))``, from a table
  ``bigram_pmi`` counts once on training text (add-0.5 smoothing); 0 at a row start and after
  padding. Any other per-byte score (e.g. a model's "no cut here" logit) can stand in for it.
- **cohesion of a unit**: the mean join score over its inner character starts (the places where
  the unit could have been cut: every character start but its first). For a byte-bigram PMI this
  is the mean PMI across the unit's inner character boundaries; a unit of one character has no
  inner boundary and gets its row's lowest cohesion. Within each row, cohesions of the maskable
  units are standardised (z, mean 0, sd 1; all equal -> 0).
- **choice**: the row masks ``floor(rate * n + d)`` of its n maskable units (d uniform in [0, 1):
  rate * n in expectation, as the uniform choice), drawn without replacement with weight
  ``exp(cohesion_strength * z)`` (Gumbel top-k). Strength 0 is a uniform draw of that many units.

Unlike the other draws this one goes through float ``log``: CPU and CUDA may differ where two keys
tie to the last bit.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from bitmask.errors import BitmaskError
from bitmask.hashrng import U24, Stream, draw_u24
from bitmask.levels import spread
from bitmask.units import Units

SMOOTHING = 0.5  # add-0.5 on every byte pair


def bigram_pmi(texts: Iterable[bytes | np.ndarray], smoothing: float = SMOOTHING) -> torch.Tensor:
    """float32 [256, 256]: PMI in bits of each adjacent byte pair (a, b), from the pairs inside
    each text (none across texts), with ``smoothing`` added to every pair count."""
    counts = np.zeros(256 * 256, dtype=np.float64)
    for text in texts:
        data = np.frombuffer(text, dtype=np.uint8) if isinstance(text, bytes) else text
        data = np.asarray(data, dtype=np.uint8).ravel()
        if data.size > 1:
            pairs = data[:-1].astype(np.int64) * 256 + data[1:]
            counts += np.bincount(pairs, minlength=256 * 256)
    if counts.sum() == 0:
        raise BitmaskError("bigram_pmi got no byte pairs: pass texts of at least two bytes")
    joint = (counts + smoothing).reshape(256, 256)
    joint /= joint.sum()
    left, right = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    return torch.from_numpy(np.log2(joint / (left * right)).astype(np.float32))


def join_scores(
    byte_batch: torch.Tensor, pmi: torch.Tensor, pad: torch.Tensor | None = None
) -> torch.Tensor:
    """float32 [B, L]: ``pmi[byte i-1, byte i]`` at every byte; 0 at a row start and at and
    after padding (nothing joins across it)."""
    data = byte_batch.to(torch.int64)
    if tuple(pmi.shape) != (256, 256):
        raise BitmaskError(f"pmi has shape {tuple(pmi.shape)}: pass bigram_pmi's [256, 256] table")
    table = pmi.to(device=data.device, dtype=torch.float32)
    out = torch.zeros(data.shape, dtype=torch.float32, device=data.device)
    if data.shape[1] > 1:
        out[:, 1:] = table[data[:, :-1], data[:, 1:]]
    if pad is not None:
        pad = pad.to(device=data.device, dtype=torch.bool)
        after_pad = torch.zeros_like(pad)
        after_pad[:, 1:] = pad[:, :-1]
        out = out.masked_fill(pad | after_pad, 0.0)
    return out


def unit_cohesion(
    join: torch.Tensor, units: Units, valid: torch.Tensor, char_start: torch.Tensor
) -> torch.Tensor:
    """float32 [B, U]: each unit's standardised cohesion among the row's maskable units (see the
    module doc; 0 for units that are not maskable)."""
    batch = valid.shape[0]
    inner = (valid & char_start & ~units.start).to(torch.float32)  # [B, L] cut points
    index = units.unit_id + 1  # column 0 collects padding
    size = (batch, units.max_units + 1)
    total = torch.zeros(size, device=valid.device).scatter_add_(1, index, join.float() * inner)
    count = torch.zeros(size, device=valid.device).scatter_add_(1, index, inner)
    total, count = total[:, 1:], count[:, 1:]  # [B, U]
    eligible = units.maskable
    has_inner = eligible & (count > 0)
    mean = total / count.clamp_min(1.0)
    inf = torch.full_like(mean, float("inf"))
    floor = torch.where(has_inner, mean, inf).amin(dim=1, keepdim=True)  # [B, 1]
    floor = torch.where(torch.isfinite(floor), floor, torch.zeros_like(floor))
    raw = torch.where(has_inner, mean, floor.expand_as(mean))
    n = eligible.sum(dim=1, keepdim=True).clamp_min(1)
    centre = (raw * eligible).sum(dim=1, keepdim=True) / n
    spread_sq = (((raw - centre) ** 2) * eligible).sum(dim=1, keepdim=True) / n
    sd = spread_sq.sqrt()
    z = torch.where(sd > 1e-6, (raw - centre) / sd.clamp_min(1e-6), torch.zeros_like(raw))
    return torch.where(eligible, z, torch.zeros_like(z))


def cohesive_choice(
    keys: torch.Tensor,
    units: Units,
    cohesion: torch.Tensor,
    rate: float,
    strength: float,
    eligible: torch.Tensor,
    stream: Stream,
) -> torch.Tensor:
    """bool [B, L]: whole units, ``floor(rate * n + d)`` of the row's n ``eligible`` units, drawn
    without replacement with weight ``exp(strength * cohesion)`` (Gumbel top-k)."""
    if rate <= 0.0:
        return torch.zeros_like(units.start)
    device = units.start.device
    slots = torch.arange(units.max_units, device=device)
    uniform = (draw_u24(keys, stream, slots).to(torch.float64) + 0.5) / U24  # (0, 1)
    gumbel = -torch.log(-torch.log(uniform))  # [B, U]
    score = torch.where(eligible, strength * cohesion.double() + gumbel, float("-inf"))
    dither = draw_u24(keys, stream, torch.full((1,), -1, device=device))[:, 0] / U24  # [B]
    n = eligible.sum(dim=1).to(torch.float64)
    wanted = torch.floor(rate * n + dither).to(torch.int64)  # [B]
    order = torch.sort(score, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, slots.expand_as(order).contiguous())
    chosen = (rank < wanted[:, None]) & eligible
    return spread(chosen, units)
