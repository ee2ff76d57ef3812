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
from bitcodec import _unicode_table as unicode_table
from bitcodec import facts

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
    class_change_start: torch.Tensor | None  # bool (None when not asked for)


_SENTINEL = 0xFF  # stands for padding and for bytes past the row end: never a lead or a CONT

# Bits of the pair table, indexed by 256 * byte + next byte.
_ONE, _TWO, _THREE, _FOUR = 1, 2, 4, 8  # ASCII / valid 2-byte / valid 3- and 4-byte prefixes


@functools.cache
def _host_pair_table() -> np.ndarray:
    """uint8 [65536]: which well-formed sequences (Unicode table 3-7) a byte pair can begin."""
    b0 = np.repeat(np.arange(256), 256)
    b1 = np.tile(np.arange(256), 256)
    cont = (b1 >= 0x80) & (b1 <= 0xBF)
    low3 = np.where(b0 == 0xE0, 0xA0, 0x80)
    high3 = np.where(b0 == 0xED, 0x9F, 0xBF)
    low4 = np.where(b0 == 0xF0, 0x90, 0x80)
    high4 = np.where(b0 == 0xF4, 0x8F, 0xBF)
    table = np.where(b0 < 0x80, _ONE, 0)
    table |= np.where((b0 >= 0xC2) & (b0 <= 0xDF) & cont, _TWO, 0)
    table |= np.where((b0 >= 0xE0) & (b0 <= 0xEF) & (b1 >= low3) & (b1 <= high3), _THREE, 0)
    table |= np.where((b0 >= 0xF0) & (b0 <= 0xF4) & (b1 >= low4) & (b1 <= high4), _FOUR, 0)
    return table.astype(np.uint8)


_DEVICE_PAIR_TABLES: dict[str, torch.Tensor] = {}


def _pair_table(device: torch.device) -> torch.Tensor:
    table = _DEVICE_PAIR_TABLES.get(str(device))
    if table is None:
        table = torch.from_numpy(_host_pair_table()).to(device)
        _DEVICE_PAIR_TABLES[str(device)] = table
    return table


def _lookup(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """table[index] for a 1-D table (index_select is several times faster than indexing)."""
    return table.index_select(0, index.reshape(-1)).reshape(index.shape)


def _shift_left(x: torch.Tensor, k: int, fill: int) -> torch.Tensor:
    """x[:, j + k] at column j (``fill`` past the end), shape kept [B, L]."""
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


def last_index(flags: torch.Tensor) -> torch.Tensor:
    """Long [B, L]: the largest i <= j with flags[:, i] True, or -1 (a forward fill of indices)."""
    idx = torch.arange(flags.shape[1], device=flags.device).expand_as(flags)
    marked = torch.where(flags, idx, torch.full_like(idx, -1))
    return torch.cummax(marked, dim=1).values


def byte_facts(
    data: torch.Tensor, pad: torch.Tensor | None = None, *, class_changes: bool = True
) -> TorchFacts:
    """Facts of ``data`` (integer [B, L], values 0..255); ``pad`` bool [B, L] breaks rows.

    ``class_changes=False`` skips ``class_change_start`` (None then): it is the one fact that
    needs a scan along the row (combining marks may chain), the others look at most 3 bytes away.
    """
    # int32 throughout: a quarter of int64's memory traffic, and code points fit.
    b0 = data.to(torch.int32)
    if pad is not None:
        b0 = b0.masked_fill(pad, _SENTINEL)
    b1, b2, b3 = (_shift_left(b0, k, _SENTINEL) for k in (1, 2, 3))
    cont2 = (b2 & 0xC0) == 0x80
    cont3 = (b3 & 0xC0) == 0x80
    pair = _lookup(_pair_table(data.device), (b0 << 8) | b1)  # uint8 [B, L]
    len1 = (pair & _ONE) != 0
    len2 = (pair & _TWO) != 0
    len3 = ((pair & _THREE) != 0) & cont2
    len4 = ((pair & _FOUR) != 0) & cont2 & cont3
    long_start = len2 | len3 | len4

    # A byte is CONT if a valid sequence starting 1, 2 or 3 bytes earlier reaches it.
    covered = (
        _shift_right(long_start, 1, False)
        | _shift_right(len3 | len4, 2, False)
        | _shift_right(len4, 3, False)
    )
    roles = torch.full(b0.shape, INVALID, dtype=torch.int64, device=b0.device)
    for flags, role in (
        (len1, ASCII),
        (len2, LEAD2),
        (len3, LEAD3),
        (len4, LEAD4),
        (covered, CONT),
    ):
        roles.masked_fill_(flags, role)
    char_start = ~covered
    valid_start = len1 | long_start

    # Code point at each valid start (payload bits; the lengths pick the formula).
    c1, c2, c3 = b1 & 0x3F, b2 & 0x3F, b3 & 0x3F
    codepoint = torch.where(len1, b0, 0)
    codepoint = torch.where(len2, ((b0 & 0x1F) << 6) | c1, codepoint)
    codepoint = torch.where(len3, ((b0 & 0x0F) << 12) | (c1 << 6) | c2, codepoint)
    codepoint = torch.where(len4, ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, codepoint)
    looked_up = _lookup(codepoint_table(data.device), codepoint)  # uint8 [B, L]
    looked_up = looked_up.masked_fill(~valid_start, OTHER)

    # Spread each character's class and flags from its first byte over its bytes: the first
    # byte is 0-3 bytes back (count the run of CONT bytes ending here).
    back2 = covered & _shift_right(covered, 1, False)
    back3 = back2 & _shift_right(covered, 2, False)
    positions = torch.arange(data.shape[1], device=data.device, dtype=torch.int32)
    back = covered.to(torch.int32) + back2.to(torch.int32) + back3.to(torch.int32)
    owner = (positions - back).long()  # [B, L]
    looked_up = torch.gather(looked_up, 1, owner)
    char_class = (looked_up & 0x7).long()
    continues = char_start & ((looked_up & _CONTINUES) != 0)
    own_unit = char_start & ((looked_up & _OWN_UNIT) != 0)

    is_space = char_class == SPACE
    prev_space = _shift_right(is_space if pad is None else is_space | pad, 1, True)
    word_start = char_start & ~is_space & prev_space
    if pad is not None:
        word_start = word_start & ~pad

    if not class_changes:
        return TorchFacts(roles, char_class, char_start, word_start, None)

    # The class of the previous character that does not continue another (or a break / row start).
    counts = char_start & ~continues
    char_class_or_break = char_class
    if pad is not None:
        counts = counts | pad
        char_class_or_break = char_class.masked_fill(pad, _BREAK_CLASS)
    prev_owner = _shift_right(last_index(counts), 1, -1)  # [B, L]
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
