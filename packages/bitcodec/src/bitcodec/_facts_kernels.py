"""Numba kernels for per-byte UTF-8 facts. Rows of a 2-D uint8 array are independent.

Every kernel walks a row with decode_at, which accepts exactly what Python's strict UTF-8
decoder accepts (no overlongs, no surrogates, nothing above U+10FFFF). A byte that cannot start
a complete valid sequence is one INVALID character of its own, including the bytes of a
sequence cut off by the end of the row.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Utf8Role numbers (facts.Utf8Role).
ASCII, LEAD2, LEAD3, LEAD4, CONT, INVALID = 0, 1, 2, 3, 4, 5
# CharClass numbers (facts.CharClass).
SPACE, OTHER = 3, 5
# unit flag bits (_unicode_table).
CONTINUES, OWN_UNIT = 1, 2

# What run_rows computes; every output is uint8 [N, L] (starts as 0/1).
MODE_ROLES, MODE_CLASSES, MODE_WORD_STARTS, MODE_UNIT_STARTS = 0, 1, 2, 3


@njit(cache=True, nogil=True)
def decode_at(row: np.ndarray, i: int, n: int) -> tuple[int, int, int]:
    """The character starting at byte i of row[:n] -> (size in bytes, code point, role).

    An invalid byte gives (1, -1, INVALID).
    """
    b0 = np.int64(row[i])
    if b0 < 0x80:
        return 1, b0, ASCII
    if b0 < 0xC2:  # stray continuation byte, or overlong 2-byte lead C0/C1
        return 1, -1, INVALID
    lo = 0x80
    hi = 0xBF
    if b0 < 0xE0:
        size, cp, role = 2, b0 & 0x1F, LEAD2
    elif b0 < 0xF0:
        size, cp, role = 3, b0 & 0x0F, LEAD3
        if b0 == 0xE0:
            lo = 0xA0  # overlong below U+0800
        elif b0 == 0xED:
            hi = 0x9F  # surrogates U+D800..U+DFFF
    elif b0 < 0xF5:
        size, cp, role = 4, b0 & 0x07, LEAD4
        if b0 == 0xF0:
            lo = 0x90  # overlong below U+10000
        elif b0 == 0xF4:
            hi = 0x8F  # above U+10FFFF
    else:
        return 1, -1, INVALID
    if i + size > n:  # truncated by the end of the row
        return 1, -1, INVALID
    b1 = np.int64(row[i + 1])
    if b1 < lo or b1 > hi:
        return 1, -1, INVALID
    cp = (cp << 6) | (b1 & 0x3F)
    for k in range(2, size):
        b = np.int64(row[i + k])
        if b < 0x80 or b > 0xBF:
            return 1, -1, INVALID
        cp = (cp << 6) | (b & 0x3F)
    return size, cp, role


@njit(cache=True, nogil=True)
def roles_row(row: np.ndarray, out: np.ndarray) -> None:
    n = row.shape[0]
    i = 0
    while i < n:
        size, _cp, role = decode_at(row, i, n)
        out[i] = role
        for k in range(1, size):
            out[i + k] = CONT
        i += size


@njit(cache=True, nogil=True)
def classes_row(row: np.ndarray, classes: np.ndarray, out: np.ndarray) -> None:
    n = row.shape[0]
    i = 0
    while i < n:
        size, cp, _role = decode_at(row, i, n)
        cls = OTHER if cp < 0 else classes[cp]
        for k in range(size):
            out[i + k] = cls
        i += size


@njit(cache=True, nogil=True)
def word_starts_row(row: np.ndarray, classes: np.ndarray, out: np.ndarray) -> None:
    """out[i] = 1 at the first byte of each maximal run of non-SPACE characters."""
    n = row.shape[0]
    prev_space = True  # the first non-space character of a row starts a word
    i = 0
    while i < n:
        size, cp, _role = decode_at(row, i, n)
        is_space = cp >= 0 and classes[cp] == SPACE
        out[i] = 1 if (prev_space and not is_space) else 0
        for k in range(1, size):
            out[i + k] = 0
        prev_space = is_space
        i += size


@njit(cache=True, nogil=True)
def unit_starts_row(
    row: np.ndarray, classes: np.ndarray, flags: np.ndarray, out: np.ndarray
) -> None:
    """Word starts, plus characters whose class differs from the previous character's, plus
    every OWN_UNIT character (CJK, kana). CONTINUES characters (combining marks, joiners) never
    start a unit unless they start a word, and do not change the running class."""
    n = row.shape[0]
    prev_space = True
    prev_class = -1  # the first character of a row starts a unit
    i = 0
    while i < n:
        size, cp, _role = decode_at(row, i, n)
        cls = OTHER if cp < 0 else np.int64(classes[cp])
        flag = 0 if cp < 0 else np.int64(flags[cp])
        is_space = cls == SPACE and cp >= 0
        start = prev_space and not is_space
        if (flag & CONTINUES) == 0:
            if cls != prev_class or (flag & OWN_UNIT) != 0:
                start = True
            prev_class = cls
        out[i] = 1 if start else 0
        for k in range(1, size):
            out[i + k] = 0
        prev_space = is_space
        i += size


@njit(cache=True, nogil=True)
def run_row(
    mode: int, row: np.ndarray, classes: np.ndarray, flags: np.ndarray, out: np.ndarray
) -> None:
    if mode == MODE_ROLES:
        roles_row(row, out)
    elif mode == MODE_CLASSES:
        classes_row(row, classes, out)
    elif mode == MODE_WORD_STARTS:
        word_starts_row(row, classes, out)
    else:
        unit_starts_row(row, classes, flags, out)


@njit(cache=True, nogil=True)
def run_rows(
    mode: int, src: np.ndarray, classes: np.ndarray, flags: np.ndarray, out: np.ndarray
) -> None:
    """src uint8 [N, L] -> out uint8 [N, L], one row after another."""
    for r in range(src.shape[0]):
        run_row(mode, src[r], classes, flags, out[r])


@njit(cache=True, nogil=True, parallel=True)
def run_rows_parallel(
    mode: int, src: np.ndarray, classes: np.ndarray, flags: np.ndarray, out: np.ndarray
) -> None:
    """Same as run_rows with rows spread over numba's threads."""
    for r in prange(src.shape[0]):
        run_row(mode, src[r], classes, flags, out[r])
