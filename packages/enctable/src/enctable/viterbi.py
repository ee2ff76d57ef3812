"""Best segmentation of bytes under a table (Viterbi over code costs) and decoding.

encode: cost[i] = cheapest way to spell data[:i]; from each i every pattern that matches at i
(found by walking a prefix index, stopping at the first absent prefix) and the single byte
data[i] relax cost[i + len]. Ties keep the earlier (shorter-first) choice, so the result is
deterministic. decode: concatenation of each code's bytes.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from enctable.hashing import FNV_OFFSET, find, fnv_step, nonzero_key


@nb.njit(cache=True)
def viterbi_encode(
    data: np.ndarray,
    keys: np.ndarray,
    vals: np.ndarray,
    concat: np.ndarray,
    offsets: np.ndarray,
    codes: np.ndarray,
    costs: np.ndarray,
    byte_cost: float,
    max_len: int,
    out: np.ndarray,
) -> int:
    """Write the codes of data's best segmentation into out (int64[len(data)]); return count.

    Pattern p = concat[offsets[p]:offsets[p+1]] has code codes[p] and cost costs[p]; a single
    byte b has code b and cost byte_cost.
    """
    n = data.shape[0]
    best = np.full(n + 1, np.inf)
    back_len = np.zeros(n + 1, np.int64)
    back_pat = np.full(n + 1, -1, np.int64)
    best[0] = 0.0
    for i in range(n):
        c = best[i]
        if c + byte_cost < best[i + 1]:
            best[i + 1] = c + byte_cost
            back_len[i + 1] = 1
            back_pat[i + 1] = -1
        h = FNV_OFFSET
        for ln in range(1, min(max_len, n - i) + 1):
            h = fnv_step(h, data[i + ln - 1])
            v = find(keys, vals, nonzero_key(h))
            if v == -2:
                break
            if v < 0 or ln < 2 or offsets[v + 1] - offsets[v] != ln:
                continue
            cand = c + costs[v]
            if cand < best[i + ln]:
                same = True
                for t in range(ln):
                    if concat[offsets[v] + t] != data[i + t]:
                        same = False
                        break
                if same:
                    best[i + ln] = cand
                    back_len[i + ln] = ln
                    back_pat[i + ln] = v
    # walk back, then reverse in place
    m = 0
    j = n
    while j > 0:
        p = back_pat[j]
        out[m] = data[j - 1] if p < 0 else codes[p]
        m += 1
        j -= back_len[j]
    for t in range(m // 2):
        tmp = out[t]
        out[t] = out[m - 1 - t]
        out[m - 1 - t] = tmp
    return m


@nb.njit(cache=True)
def decode_codes(
    codes: np.ndarray, code_offset: np.ndarray, code_len: np.ndarray, concat: np.ndarray
) -> tuple[np.ndarray, int]:
    """Bytes of codes (int64[n]); code c >= 256 spells concat[code_offset[c]:+code_len[c]].

    Returns (bytes, -1) or (empty, index of the first code that is unknown at this level).
    """
    total = 0
    space = code_len.shape[0]
    for i in range(codes.shape[0]):
        c = codes[i]
        if 0 <= c < 256:
            total += 1
        elif 256 <= c < space and code_len[c] > 0:
            total += code_len[c]
        else:
            return np.zeros(0, np.uint8), i
    out = np.empty(total, np.uint8)
    pos = 0
    for i in range(codes.shape[0]):
        c = codes[i]
        if c < 256:
            out[pos] = c
            pos += 1
        else:
            a = code_offset[c]
            for t in range(code_len[c]):
                out[pos + t] = concat[a + t]
            pos += code_len[c]
    return out, -1
