"""bitcodec's per-byte facts (UTF-8 role, character class, word and class-change starts) in torch.

The same rules as ``bitcodec.facts`` (its Numba kernels; the tests compare the two), computed
elementwise on the input's device so that masks never leave it:

- a byte starts a valid character if it and the next 0-3 bytes form well-formed UTF-8 (Unicode
  table 3-7: no overlongs, no surrogates, nothing above U+10FFFF, not cut by the row's end);
- a continuation byte inside such a character has role CONT; every other byte is INVALID and a
  character (of class OTHER) of its own;
- the class of a byte is the class of its character (``codepoint_class_table`` looked up on the
  device).

Padding (``pad``) breaks the row: nothing continues across it, a character after it starts a
word / unit as at a row start, so each run of valid bytes behaves like a row of its own.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

# Numbers of bitcodec.facts.Utf8Role / CharClass (checked against bitcodec in the tests).
ASCII, LEAD2, LEAD3, LEAD4, CONT, INVALID = range(6)
LETTER, DIGIT, PUNCT, SPACE, SYMBOL, OTHER = range(6)
_BREAK_CLASS = 7  # class code of padding inside the class-change comparison: differs from all

# Flag bits packed above the class in the device lookup table.
_CONTINUES = 1 << 3  # combining marks, ZWNJ/ZWJ: continue the unit of the character before
_OWN_UNIT = 1 << 4  # CJK ideographs, kana: each character is a unit


@functools.cache
def _host_table() -> np.ndarray:
    """uint8 [0x110000]: CharClass in bits 0-2, CONTINUES / OWN_UNIT flags in bits 3-4."""
    # The unit flags behind class_change_starts live in bitcodec's table module (no public
    # accessor yet); the tests compare the result with bitcodec.facts.class_change_starts.
    from bitcodec import _unicode_table as unicode_table
    from bitcodec import facts

    table = np.asarray(facts.codepoint_class_table(), dtype=np.uint8).copy()
    flags = np.asarray(unicode_table.unit_flags_table(), dtype=np.uint8)
    table |= np.where(flags & unicode_table.CONTINUES, _CONTINUES, 0).astype(np.uint8)
    table |= np.where(flags & unicode_table.OWN_UNIT, _OWN_UNIT, 0).astype(np.uint8)
    return table


_DEVICE_TABLES: dict[str, torch.Tensor] = {}


def codepoint_table(device: torch.device) -> torch.Tensor:
    """The lookup table as a uint8 tensor on ``device`` (made once per device)."""
    key = str(device)
    table = _DEVICE_TABLES.get(key)
    if table is None:
        table = torch.from_numpy(_host_table()).to(device)
        _DEVICE_TABLES[key] = table
    return table


@dataclass(frozen=True)
class TorchFacts:
    """Per-byte facts, all [B, L]; values at padding are meaningless (callers mask them)."""

    utf8_role: torch.Tensor  # long
    char_class: torch.Tensor  # long
    char_start: torch.Tensor  # bool
    word_start: torch.Tensor  # bool
    class_change_start: torch.Tensor  # bool


def _shift_left(x: torch.Tensor, k: int, fill: int) -> torch.Tensor:
    """x[:, j + k] at column j (``fill`` past the end), shape kept [B, L]."""
    if k == 0:
        return x
    if k >= x.shape[1]:
        return torch.full_like(x, fill)
    tail = torch.full((x.shape[0], k), fill, dtype=x.dtype, device=x.device)
    return torch.cat([x[:, k:], tail], dim=1)


def _shift_right(x: torch.Tensor, k: int, fill: int | bool) -> torch.Tensor:
    """x[:, j - k] at column j (``fill`` before the start), shape kept [B, L]."""
    if k >= x.shape[1]:
        return torch.full_like(x, fill)
    head = torch.full((x.shape[0], k), fill, dtype=x.dtype, device=x.device)
    return torch.cat([head, x[:, : x.shape[1] - k]], dim=1)


def _in(x: torch.Tensor, low: int | torch.Tensor, high: int | torch.Tensor) -> torch.Tensor:
    return (x >= low) & (x <= high)


def _last_index(flags: torch.Tensor) -> torch.Tensor:
    """Long [B, L]: the largest i <= j with flags[:, i] True, or -1 (a forward fill of indices)."""
    idx = torch.arange(flags.shape[1], device=flags.device).expand_as(flags)
    marked = torch.where(flags, idx, torch.full_like(idx, -1))
    return torch.cummax(marked, dim=1).values


def byte_facts(data: torch.Tensor, pad: torch.Tensor | None = None) -> TorchFacts:
    """Facts of ``data`` (integer [B, L], values 0..255); ``pad`` bool [B, L] breaks rows."""
    b0 = data.to(torch.int64)
    if pad is not None:
        b0 = torch.where(pad, torch.full_like(b0, -1), b0)  # -1: neither lead nor continuation
    b1, b2, b3 = (_shift_left(b0, k, -1) for k in (1, 2, 3))
    cont1, cont2, cont3 = _in(b1, 0x80, 0xBF), _in(b2, 0x80, 0xBF), _in(b3, 0x80, 0xBF)

    # Well-formed sequences (Unicode table 3-7), by their first byte.
    len1 = _in(b0, 0x00, 0x7F)
    len2 = _in(b0, 0xC2, 0xDF) & cont1
    low3 = torch.where(b0 == 0xE0, 0xA0, 0x80)
    high3 = torch.where(b0 == 0xED, 0x9F, 0xBF)
    len3 = _in(b0, 0xE0, 0xEF) & _in(b1, low3, high3) & cont2
    low4 = torch.where(b0 == 0xF0, 0x90, 0x80)
    high4 = torch.where(b0 == 0xF4, 0x8F, 0xBF)
    len4 = _in(b0, 0xF0, 0xF4) & _in(b1, low4, high4) & cont2 & cont3

    # A byte is CONT if a valid sequence starting 1, 2 or 3 bytes earlier reaches it.
    covered = (
        _shift_right(len2 | len3 | len4, 1, False)
        | _shift_right(len3 | len4, 2, False)
        | _shift_right(len4, 3, False)
    )
    roles = torch.full_like(b0, INVALID)
    roles = torch.where(len1, ASCII, roles)
    roles = torch.where(len2, LEAD2, roles)
    roles = torch.where(len3, LEAD3, roles)
    roles = torch.where(len4, LEAD4, roles)
    roles = torch.where(covered, CONT, roles)
    char_start = ~covered
    valid_start = len1 | len2 | len3 | len4

    low6 = lambda x: x & 0x3F  # noqa: E731  (payload bits of a continuation byte)
    codepoint = torch.where(len2, ((b0 & 0x1F) << 6) | low6(b1), b0)
    codepoint = torch.where(len3, ((b0 & 0x0F) << 12) | (low6(b1) << 6) | low6(b2), codepoint)
    codepoint = torch.where(
        len4, ((b0 & 0x07) << 18) | (low6(b1) << 12) | (low6(b2) << 6) | low6(b3), codepoint
    )
    codepoint = torch.where(valid_start, codepoint, torch.zeros_like(codepoint))
    looked_up = codepoint_table(data.device)[codepoint].to(torch.int64)  # [B, L]
    looked_up = torch.where(valid_start, looked_up, torch.full_like(looked_up, OTHER))

    # Spread each character's class and flags from its first byte over its bytes.
    owner = _last_index(char_start).clamp_min(0)  # [B, L]: index of the character's first byte
    looked_up = torch.gather(looked_up, 1, owner)
    char_class = looked_up & 0x7
    continues = char_start & ((looked_up & _CONTINUES) != 0)
    own_unit = char_start & ((looked_up & _OWN_UNIT) != 0)

    is_space = char_class == SPACE
    if pad is not None:
        char_class_or_break = torch.where(pad, _BREAK_CLASS, char_class)
        prev_space = _shift_right(is_space | pad, 1, True)
    else:
        char_class_or_break = char_class
        prev_space = _shift_right(is_space, 1, True)
    word_start = char_start & ~is_space & prev_space
    if pad is not None:
        word_start = word_start & ~pad

    # The class of the previous character that does not continue another (or a break / row start).
    counts = char_start & ~continues
    if pad is not None:
        counts = counts | pad
    prev_owner = _shift_right(_last_index(counts), 1, -1)  # [B, L]
    prev_class = torch.gather(char_class_or_break, 1, prev_owner.clamp_min(0))
    prev_class = torch.where(prev_owner < 0, torch.full_like(prev_class, -1), prev_class)
    changes = char_start & ~continues & ((char_class != prev_class) | own_unit)
    class_change = word_start | changes
    if pad is not None:
        class_change = class_change & ~pad
    return TorchFacts(
        utf8_role=roles,
        char_class=char_class,
        char_start=char_start,
        word_start=word_start,
        class_change_start=class_change,
    )
