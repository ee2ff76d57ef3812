"""Where units start, and the candidate spans of each level.

All spans are (start, end) offsets into the flattened batch (row r, byte j -> r * L + j); a
span never crosses a row. Per-byte work runs in Numba kernels that write into preallocated
outputs and return how many entries they wrote; `enctable._reference` holds plain NumPy/Python
versions the tests compare them with.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from enctable.config import TableConfig
from enctable.errors import EnctableError


@nb.njit(cache=True, inline="always")
def is_continuation(byte: np.uint8) -> bool:
    return (byte & 0xC0) == 0x80


@nb.njit(cache=True, inline="always")
def utf8_length(lead: np.uint8) -> int:
    """Bytes of the character a lead byte announces (1 for ASCII and for invalid leads)."""
    if lead < 0xC2:
        return 1
    if lead < 0xE0:
        return 2
    if lead < 0xF0:
        return 3
    if lead < 0xF5:
        return 4
    return 1


@nb.njit(cache=True)
def char_spans(flat: np.ndarray, row_len: int, out_s: np.ndarray, out_e: np.ndarray) -> int:
    """Multi-byte UTF-8 characters (well-formed lead + continuations inside one row).

    out_s/out_e: int64[len(flat)] preallocated. Returns the number written.
    """
    n = 0
    total = flat.shape[0]
    for row_start in range(0, total, row_len):
        row_end = row_start + row_len
        i = row_start
        while i < row_end:
            k = utf8_length(flat[i])
            ok = k > 1 and i + k <= row_end
            if ok:
                for j in range(i + 1, i + k):
                    if not is_continuation(flat[j]):
                        ok = False
                        break
            if ok:
                out_s[n] = i
                out_e[n] = i + k
                n += 1
                i += k
            else:
                i += 1
    return n


@nb.njit(cache=True)
def unit_spans(
    starts: np.ndarray, row_len: int, trim: bool, out_s: np.ndarray, out_e: np.ndarray
) -> int:
    """Units between consecutive starts of each row (starts bool[N] flat).

    trim: the bytes before a row's first start and from its last start on are not known to be
    whole units (a window cut them), so they are skipped; else the row's edges count as
    boundaries. out_s/out_e: int64[N] preallocated. Returns the number written.
    """
    n = 0
    total = starts.shape[0]
    for row_start in range(0, total, row_len):
        row_end = row_start + row_len
        prev = -1 if trim else row_start
        for j in range(row_start, row_end):
            if starts[j]:
                if prev >= 0 and j > prev:
                    out_s[n] = prev
                    out_e[n] = j
                    n += 1
                prev = j
        if not trim and prev >= 0 and prev < row_end:
            out_s[n] = prev
            out_e[n] = row_end
            n += 1
    return n


@nb.njit(cache=True)
def piece_spans(
    flat: np.ndarray,
    unit_s: np.ndarray,
    unit_e: np.ndarray,
    max_len: int,
    out_s: np.ndarray,
    out_e: np.ndarray,
) -> int:
    """Proper prefixes and suffixes of each unit, cut at character starts, 2..max_len bytes.

    Pieces let a level-2 table spell an unseen word from a frequent stem and ending.
    out_s/out_e: int64[2 * total unit bytes] preallocated. Returns the number written.
    """
    n = 0
    for u in range(unit_s.shape[0]):
        a = unit_s[u]
        b = unit_e[u]
        for c in range(a + 1, b):
            if is_continuation(flat[c]):
                continue
            if 2 <= c - a <= max_len:
                out_s[n] = a
                out_e[n] = c
                n += 1
            if 2 <= b - c <= max_len:
                out_s[n] = c
                out_e[n] = b
                n += 1
    return n


def run_spans(
    unit_s: np.ndarray, unit_e: np.ndarray, row_len: int, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Runs of lo..hi consecutive units of one row (units as from `unit_spans`, in order)."""
    rows = unit_s // row_len
    out_s, out_e = [], []
    for n_units in range(lo, hi + 1):
        if unit_s.shape[0] < n_units:
            break
        first = np.arange(unit_s.shape[0] - n_units + 1)
        last = first + n_units - 1
        ok = rows[first] == rows[last]
        for step in range(n_units - 1):  # back to back, no skipped bytes in between
            ok &= unit_e[first + step] == unit_s[first + step + 1]
        out_s.append(unit_s[first[ok]])
        out_e.append(unit_e[last[ok]])
    if not out_s:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_s), np.concatenate(out_e)


# ---------------------------------------------------------------- unit starts


def attention_cohesion(attention_maps: np.ndarray, window: int) -> np.ndarray:
    """float64[B, L]: attention mass byte j puts on the `window` bytes just before it.

    attention_maps, row j = where byte j attends, in one of two layouts:
    - dense [B, L, L] (entry [b, j, k] = weight of byte j on byte k);
    - banded [B, L, K] with K odd and != L (entry [b, j, o] = weight of byte j on byte
      j + o - (K - 1) / 2), the layout of local-window attention such as bitswin's.
    A 4-D array [B, H, L, L] / [B, H, L, K] is first averaged over axis 1 (heads or blocks).
    A unit tends to start where this mass is low (the byte looks away from what precedes it).
    """
    maps = np.asarray(attention_maps, dtype=np.float64)
    if maps.ndim == 4:
        maps = maps.mean(axis=1)  # [B, L, L] or [B, L, K]
    if maps.ndim != 3:
        raise EnctableError(
            f"attention_maps has shape {tuple(np.shape(attention_maps))}: pass [B, L, L] dense or "
            "[B, L, K] banded byte-level maps (optionally with a head axis after B), or None"
        )
    _, length, width = maps.shape
    if width == length:
        j = np.arange(length)[:, None]
        k = np.arange(length)[None, :]
        before = (k < j) & (k >= j - window)  # [L, L]
        cohesion = (maps * before[None]).sum(axis=2)  # [B, L]
    elif width % 2 == 1:
        centre = (width - 1) // 2
        cohesion = maps[:, :, max(0, centre - window) : centre].sum(axis=2)  # [B, L]
    else:
        raise EnctableError(
            f"attention_maps rows have {width} entries for {length} bytes: pass dense [.., L, L] "
            "or banded [.., L, K] maps with an odd K"
        )
    if length > 1:  # byte 0 has nothing before it: no evidence either way
        cohesion[:, 0] = cohesion[:, 1:].mean(axis=1)
    return cohesion


def _zscore_rows(x: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    return (x - mean) / np.where(std > 0, std, 1.0)


def select_starts(
    byte_batch: np.ndarray,
    scores: np.ndarray,
    config: TableConfig,
    attention_maps: np.ndarray | None = None,
) -> np.ndarray:
    """bool[B, L] unit starts from per-byte scores (higher = more likely a start).

    With attention maps the score becomes z(scores) - attention_weight * z(cohesion) per row.
    With `boundary_threshold` a byte starts a unit where its score exceeds it; otherwise the
    top k = round(L / target_unit_bytes) scores of each row do (ties broken by position), which
    pins the mean unit length however the model's scores drift. UTF-8 continuation bytes never
    start a unit when `align_to_chars`.
    """
    s = np.asarray(scores, dtype=np.float64)
    if attention_maps is not None:
        cohesion = attention_cohesion(attention_maps, config.attention_window)
        if cohesion.shape != s.shape:
            raise EnctableError(
                f"attention_maps cover {cohesion.shape} bytes but boundary_scores are {s.shape}:"
                " pass maps for the same batch"
            )
        s = _zscore_rows(s) - config.attention_weight * _zscore_rows(cohesion)
    if config.align_to_chars:
        s = np.where((byte_batch & 0xC0) == 0x80, -np.inf, s)
    if config.boundary_threshold is not None:
        return s > config.boundary_threshold
    batch, length = s.shape
    k = max(1, min(length, round(length / config.target_unit_bytes)))
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]  # [B, k]
    starts = np.zeros((batch, length), dtype=bool)
    np.put_along_axis(starts, order, True, axis=1)
    return starts & np.isfinite(s)
