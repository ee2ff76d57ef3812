"""Count, for patterns of a level, where their bytes occur and where the model cut them exactly.

This is the raw material of confidence: a pattern the model always cuts the same way (each
occurrence starts a unit and ends one, with the level's number of units inside) has confidence
near 1; a string that appears mostly inside other units (a piece, an accidental run) has low
confidence.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from enctable.hashing import FNV_OFFSET, find, fnv_step, nonzero_key


@nb.njit(cache=True)
def count_occurrences(
    flat: np.ndarray,
    row_len: int,
    starts: np.ndarray,
    trim: bool,
    lo_units: int,
    hi_units: int,
    keys: np.ndarray,
    vals: np.ndarray,
    concat: np.ndarray,
    offsets: np.ndarray,
    max_len: int,
    seen: np.ndarray,
    exact: np.ndarray,
) -> None:
    """Add to seen[p] every occurrence of pattern p, to exact[p] those cut as lo..hi units.

    flat uint8[N], starts bool[N] (rows of row_len). With trim only the stretch between a
    row's first and last start is looked at (outside it the cuts are unknown); else the row's
    edges are boundaries. keys/vals: prefix index of the patterns (hashing.make_prefix_index).
    """
    cs = np.zeros(row_len + 1, np.int64)  # cs[j] = starts among row bytes < j
    total = flat.shape[0]
    for row_start in range(0, total, row_len):
        first = -1
        last = -1
        for j in range(row_len):
            cs[j + 1] = cs[j] + (1 if starts[row_start + j] else 0)
            if starts[row_start + j]:
                if first < 0:
                    first = j
                last = j
        if trim:
            if first < 0 or last <= first:
                continue
            a_bound, b_bound = first, last
        else:
            a_bound, b_bound = 0, row_len
        for i in range(a_bound, b_bound):
            h = FNV_OFFSET
            start_ok = starts[row_start + i] or (not trim and i == 0)
            for ln in range(1, min(max_len, b_bound - i) + 1):
                h = fnv_step(h, flat[row_start + i + ln - 1])
                v = find(keys, vals, nonzero_key(h))
                if v == -2:
                    break
                if v < 0 or offsets[v + 1] - offsets[v] != ln:
                    continue
                same = True
                for t in range(ln):
                    if concat[offsets[v] + t] != flat[row_start + i + t]:
                        same = False
                        break
                if not same:
                    continue
                seen[v] += 1.0
                e = i + ln
                end_ok = starts[row_start + e] if trim else e == row_len or starts[row_start + e]
                if start_ok and end_ok:
                    inside = cs[e] - cs[i + 1]  # starts strictly inside the span
                    if lo_units <= inside + 1 <= hi_units:
                        exact[v] += 1.0
