"""The four masks, each sampled in bulk from the counter-based RNG (no loop over elements).

Rates mean:
- bit: each bit of a valid byte is hidden with probability ``rate`` (to 2^-16);
- byte: each valid byte (all 8 bits) with probability ``rate``; with ``byte_unit="char"`` each
  character, all of its bytes;
- word: each unit with probability ``rate`` (whitespace-only units only if
  ``mask_space_units``), all of its bytes;
- phrase, when phrase units are given (``phrase_boundaries``): each phrase unit with
  probability ``rate`` (non-space units only unless ``mask_space_units``), all of its bytes;
- phrase, otherwise: spans of consecutive word units. Each unit position starts a span with probability ``q``,
  the span length in units is SpanBERT's geometric(p) clipped to ``cap``, and ``q`` is solved so
  that the expected fraction of units covered (spans overlap and merge) equals ``rate``. Span
  starts are also drawn for the ``cap - 1`` positions before the row, whose spans are clipped at
  the row start: a window is a slice of a longer text, and this makes every unit (the first ones
  included) covered with probability exactly ``rate``.
"""

from __future__ import annotations

import functools

import torch

from bitmask.facts_torch import last_index
from bitmask.hashrng import (
    COUNTER_OFFSET,
    U24,
    Stream,
    bernoulli,
    bernoulli16x4,
    draw_u24,
)
from bitmask.units import Units


def bit_mask(keys: torch.Tensor, valid: torch.Tensor, rate: float) -> torch.Tensor:
    """Bool [B, 8L]."""
    batch, length = valid.shape
    if rate <= 0.0:
        return torch.zeros(batch, 8 * length, dtype=torch.bool, device=valid.device)
    # One hash per half byte gives four 16-bit draws: bit k of byte j uses counter 2j + k // 4.
    counters = torch.arange(2 * length, device=valid.device)
    hidden = bernoulli16x4(keys, Stream.BIT, counters, rate)  # [B, 8L]
    return hidden & expand_bits(valid)


def expand_bits(per_byte: torch.Tensor) -> torch.Tensor:
    """[B, L] -> [B, 8L], each byte's value on its 8 bits (cheaper than repeat_interleave)."""
    batch, length = per_byte.shape
    return per_byte[:, :, None].expand(batch, length, 8).reshape(batch, 8 * length)


def byte_mask(
    keys: torch.Tensor,
    valid: torch.Tensor,
    rate: float,
    char_start: torch.Tensor | None = None,
) -> torch.Tensor:
    """Bool [B, L]: each valid byte hidden with probability ``rate``; with ``char_start`` (bool
    [B, L], a byte that is not a UTF-8 continuation) each character is drawn once, at its first
    byte, and hidden whole (the draw of byte j is the same in both modes)."""
    if rate <= 0.0:
        return torch.zeros_like(valid)
    counters = torch.arange(valid.shape[1], device=valid.device)
    drawn = bernoulli(keys, Stream.BYTE, counters, rate)  # [B, L]
    if char_start is not None:
        first = last_index(char_start).clamp_min(0)  # [B, L] the first byte of its character
        drawn = torch.gather(drawn, 1, first)
    return drawn & valid


def spread(per_unit: torch.Tensor, units: Units) -> torch.Tensor:
    """Bool [B, U] per unit -> bool [B, L] per byte (False at padding)."""
    return torch.gather(per_unit, 1, units.unit_id.clamp_min(0)) & (units.unit_id >= 0)


def word_mask(
    keys: torch.Tensor,
    units: Units,
    rate: float,
    mask_space_units: bool = False,
    stream: Stream = Stream.WORD,
) -> torch.Tensor:
    """Bool [B, L]: whole units, each with probability `rate`."""
    if rate <= 0.0:
        return torch.zeros_like(units.start)
    counters = torch.arange(units.max_units, device=units.start.device)
    chosen = bernoulli(keys, stream, counters, rate)  # [B, U]
    if not mask_space_units:
        chosen = chosen & units.maskable
    return spread(chosen, units)


@functools.cache
def span_length_thresholds(p: float, cap: int) -> tuple[int, ...]:
    """24-bit CDF thresholds of the clipped geometric: length = 1 + #(thresholds <= draw)."""
    weights = [p * (1.0 - p) ** (k - 1) for k in range(1, cap + 1)]
    total = sum(weights)
    thresholds, cdf = [], 0.0
    for w in weights[:-1]:
        cdf += w / total
        thresholds.append(round(cdf * U24))
    return tuple(thresholds)


def span_length_survival(p: float, cap: int) -> list[float]:
    """P(length >= k) for k = 1..cap, of the integer-threshold sampler actually used."""
    cuts = [0, *span_length_thresholds(p, cap), U24]
    return [(U24 - cuts[k - 1]) / U24 for k in range(1, cap + 1)]


@functools.cache
def phrase_start_probability(rate: float, p: float, cap: int) -> float:
    """q such that 1 - prod_k (1 - q * P(len >= k)) = rate: expected unit coverage = rate."""
    survival = span_length_survival(p, cap)

    def coverage(q: float) -> float:
        miss = 1.0
        for s in survival:
            miss *= 1.0 - q * s
        return 1.0 - miss

    low, high = 0.0, 1.0
    for _ in range(60):  # bisection: coverage is increasing in q
        mid = 0.5 * (low + high)
        if coverage(mid) < rate:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def phrase_mask(
    keys: torch.Tensor, units: Units, rate: float, span_p: float, span_cap: int
) -> torch.Tensor:
    """Bool [B, L]: runs of whole consecutive units."""
    if rate <= 0.0:
        return torch.zeros_like(units.start)
    device = units.start.device
    lead = span_cap - 1  # virtual span starts before the row
    # counters: unit position u in [-(cap-1), U-1], shifted positive so they never depend on cap
    counters = torch.arange(-lead, units.max_units, device=device) + COUNTER_OFFSET
    q = phrase_start_probability(float(rate), float(span_p), int(span_cap))
    starts = bernoulli(keys, Stream.PHRASE_START, counters, q)  # [B, U + cap - 1]
    draws = draw_u24(keys, Stream.PHRASE_LENGTH, counters)
    lengths = torch.ones_like(draws)
    for cut in span_length_thresholds(float(span_p), int(span_cap)):
        lengths += (draws >= cut).to(lengths.dtype)
    # Unit u is covered if some span starting at s <= u ends after it: a running max of the
    # (exclusive) span ends along the row, one scan instead of a loop over the cap.
    positions = torch.arange(-lead, units.max_units, device=device)  # unit index of each draw
    ends = torch.where(starts, positions + lengths, torch.full_like(lengths, -lead))
    reach = torch.cummax(ends, dim=1).values[:, lead:]  # [B, U]
    covered = reach > positions[lead:]
    return spread(covered, units)


def mixture_draw(keys: torch.Tensor, rates: dict[str, float], weights: dict[str, float]):
    """Per window, the one active level it is masked by: {level: bool [B]} (True = this
    window uses the level), or None when fewer than two levels are active (nothing to draw).

    Active = rate > 0 and weight > 0 (with every active weight 0: equal weights). The draw is
    one 24-bit number per window against the cumulative integer thresholds of the weights.
    """
    active = [name for name, rate in rates.items() if rate > 0.0]
    if len(active) < 2:
        return None
    w = [max(0.0, weights[name]) for name in active]
    if sum(w) <= 0.0:
        w = [1.0] * len(active)
    total = sum(w)
    counter = torch.zeros(1, dtype=torch.int64, device=keys.device)
    u = draw_u24(keys, Stream.LEVEL, counter)[:, 0]  # [B]
    drawn: dict[str, torch.Tensor] = {}
    low, cum = 0, 0.0
    for name, weight in zip(active, w, strict=True):
        cum += weight
        high = U24 if name == active[-1] else round(cum / total * U24)
        drawn[name] = (u >= low) & (u < high)
        low = high
    return drawn
