"""Forward FLOPs per byte of a BitSwin config (every matmul and attention product; training is
about 3x). Checked against torch.utils.flop_counter.FlopCounterMode in the tests.

Counts 2 FLOPs per multiply-add. Elementwise work (norms, GELU, softmax, the router's cosine,
embeddings, gathers) is left out, as in the usual 6N-style estimates. Windows are padded, so a
sequence that does not fill its last window pays for the whole window.

What the cost depends on beyond the config, per forward:
- ``bit_patterns_per_byte``: rows the bit stage ran on per byte of the batch (distinct 8-id
  patterns / (B * L) with ``bit_unique``; 1.0 without). Default 1.0, the upper bound.
- ``unit_slots``: the length of the word (and phrase) unit sequences, per row. Default: the
  cap ceil(unit_cap * items / target), the upper bound (and the exact value with
  ``static_units``).
Both are in every forward's ``metrics`` (``bit_patterns_per_byte``, ``word_slots``,
``phrase_slots``): pass them for the realised cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bitswin.config import BitSwinConfig
from bitswin.errors import BitswinError


def _blocks(depth: int, tokens: int, dim: int, mlp_ratio: float, window: int) -> float:
    """FLOPs of `depth` Swin blocks on `tokens` tokens: the qkv projection and attention run on
    the window-padded layout, the output projection and the MLP on the tokens themselves."""
    hidden = max(1, round(dim * mlp_ratio))
    padded = -(-tokens // window) * window
    windowed = 2 * 3 * dim * dim + 2 * 2 * window * dim  # qkv, q @ k^T and probs @ v
    per_token = 2 * (dim * dim + 2 * dim * hidden)  # proj, mlp
    return float(depth * (padded * windowed + tokens * per_token))


def _slots(config: BitSwinConfig, seq_len: int, unit_slots: Sequence[int] | None) -> list[int]:
    """Items per row at each stage above the bits: [L, M1, (M2)]."""
    items = [seq_len]
    for level in range(config.num_levels):
        if unit_slots is not None:
            if len(unit_slots) != config.num_levels:
                raise BitswinError(
                    f"unit_slots has {len(unit_slots)} entries, the config has "
                    f"{config.num_levels} unit levels: give one slot count per level"
                )
            items.append(int(unit_slots[level]))
        elif config.router == "none":
            items.append(seq_len)
        else:
            target = config.unit_targets[level]  # type: ignore[index]
            items.append(max(1, min(items[-1], math.ceil(config.unit_cap * items[-1] / target))))
    return items


def _bit_stage(c: BitSwinConfig) -> float:
    """FLOPs per row (pattern) of the bit stage: its blocks on 8 bits and the merge MLP."""
    d1, d2 = c.widths[0], c.widths[1]
    blocks = _blocks(c.depths[0], 8, d1, c.bit_mlp_ratio, c.windows[0])
    hidden = round(c.bit_mlp_ratio * d2)
    return blocks + 2 * (8 * d1 * hidden + hidden * d2)


def _check(seq_len_bytes: int, bit_patterns_per_byte: float | None) -> float:
    if seq_len_bytes < 1:
        raise BitswinError(f"seq_len_bytes is {seq_len_bytes}: use a length >= 1 byte")
    patterns = 1.0 if bit_patterns_per_byte is None else float(bit_patterns_per_byte)
    if not 0.0 < patterns <= 1.0:
        raise BitswinError(
            f"bit_patterns_per_byte is {patterns}: a share of the bytes in (0, 1] "
            "(distinct bit patterns / bytes in the batch)"
        )
    return patterns


def _descent(c: BitSwinConfig, items: list[int], units_only: bool) -> float:
    """Per row: encoders, routers and pooling on the way down (and the innermost stage)."""
    total = 0.0
    last = c.num_stages - 1
    for i in range(1, last + 1):
        n = items[i - 1]
        if i == last and units_only:
            break
        total += _blocks(c.split(i)[0], n, c.widths[i], c.mlp_ratio, c.windows[i])
        if i == last:
            break
        if c.router == "learned":
            total += 2 * 2 * c.widths[i] ** 2 * (n - 1)  # W_q h_{t-1}, W_k h_t
        if units_only and i == last - 1:
            break
        total += 2 * (2 * c.widths[i]) * c.widths[i + 1] * items[i]  # pooling Linear per unit
    return total


def _estimate(
    c: BitSwinConfig,
    seq_len_bytes: int,
    bit_patterns_per_byte: float | None,
    unit_slots: Sequence[int] | None,
    units_only: bool,
) -> float:
    patterns = _check(seq_len_bytes, bit_patterns_per_byte)
    items = _slots(c, seq_len_bytes, unit_slots)
    total = patterns * seq_len_bytes * _bit_stage(c) + _descent(c, items, units_only)
    if units_only:
        return total / seq_len_bytes
    for i in range(1, c.num_stages - 1):  # way up: upsampling Linear per unit, decoder blocks
        total += 2 * c.widths[i + 1] * c.widths[i] * items[i]
        total += _blocks(c.split(i)[1], items[i - 1], c.widths[i], c.mlp_ratio, c.windows[i])
    d, d1 = c.widths[1], c.widths[0]
    heads = 2 * d * (256 + 1 + 6 + 6)  # byte, replaced, utf8 role, char class
    bit_head = 2 * d * 8 * d1 + 8 * (2 * d1 * d1 + 2 * d1)  # unmerge + per-bit MLP
    total += seq_len_bytes * (heads + bit_head)
    return total / seq_len_bytes


def estimate_flops_per_byte(
    config: BitSwinConfig,
    seq_len_bytes: int,
    *,
    bit_patterns_per_byte: float | None = None,
    unit_slots: Sequence[int] | None = None,
    units: bool = False,
) -> float:
    """Forward FLOPs per byte of input for rows of `seq_len_bytes` bytes (module doc); with
    ``units``, of `BitSwinModel.units` (bit stage, byte encoder, routers and the encoders between
    them)."""
    return _estimate(config, seq_len_bytes, bit_patterns_per_byte, unit_slots, units)


def realised_counts(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the estimators for what one forward actually ran, from its
    ``metrics`` (``bit_patterns_per_byte``, ``word_slots``, ``phrase_slots``)."""
    slots = [int(float(metrics[k])) for k in ("word_slots", "phrase_slots") if k in metrics]
    patterns = metrics.get("bit_patterns_per_byte")
    return {
        "bit_patterns_per_byte": None if patterns is None else float(patterns),
        "unit_slots": slots or None,
    }


def realised_flops_per_byte(
    config: BitSwinConfig, seq_len_bytes: int, metrics: Mapping[str, Any], units: bool = False
) -> float:
    """Forward FLOPs per byte of the forward (or, with ``units``, the ``model.units`` pass)
    whose ``metrics`` are given."""
    return estimate_flops_per_byte(config, seq_len_bytes, units=units, **realised_counts(metrics))
