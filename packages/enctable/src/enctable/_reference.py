"""Plain NumPy/Python versions of the Numba kernels, for the property tests (slow, obvious)."""

from __future__ import annotations

import itertools

import numpy as np


def char_spans_ref(flat: np.ndarray, row_len: int) -> list[tuple[int, int]]:
    out = []
    for r in range(0, flat.shape[0], row_len):
        row = flat[r : r + row_len].tobytes()
        i = 0
        while i < len(row):
            lead = row[i]
            k = (
                2
                if 0xC2 <= lead < 0xE0
                else 3
                if 0xE0 <= lead < 0xF0
                else 4
                if 0xF0 <= lead < 0xF5
                else 1
            )
            if k > 1 and i + k <= len(row) and all(0x80 <= b < 0xC0 for b in row[i + 1 : i + k]):
                out.append((r + i, r + i + k))
                i += k
            else:
                i += 1
    return out


def unit_spans_ref(starts: np.ndarray, row_len: int, trim: bool) -> list[tuple[int, int]]:
    out = []
    for r in range(0, starts.shape[0], row_len):
        idx = [r + j for j in range(row_len) if starts[r + j]]
        cuts = idx if trim else sorted({r, *idx, r + row_len})
        out.extend((a, b) for a, b in itertools.pairwise(cuts) if b > a)
    return out


def piece_spans_ref(
    flat: np.ndarray, units: list[tuple[int, int]], max_len: int
) -> list[tuple[int, int]]:
    out = []
    for a, b in units:
        for c in range(a + 1, b):
            if 0x80 <= flat[c] < 0xC0:
                continue
            if 2 <= c - a <= max_len:
                out.append((a, c))
            if 2 <= b - c <= max_len:
                out.append((c, b))
    return out


def count_occurrences_ref(
    flat: np.ndarray,
    row_len: int,
    starts: np.ndarray,
    trim: bool,
    lo: int,
    hi: int,
    pats: list[bytes],
) -> tuple[np.ndarray, np.ndarray]:
    seen = np.zeros(len(pats))
    exact = np.zeros(len(pats))
    for r in range(0, flat.shape[0], row_len):
        row = flat[r : r + row_len].tobytes()
        st = [bool(x) for x in starts[r : r + row_len]]
        idx = [j for j in range(row_len) if st[j]]
        if trim:
            if len(idx) < 2:
                continue
            a_bound, b_bound = idx[0], idx[-1]
        else:
            a_bound, b_bound = 0, row_len
        bounds = set(idx) | (set() if trim else {0, row_len})
        for p_i, p in enumerate(pats):
            for i in range(a_bound, b_bound - len(p) + 1):
                if row[i : i + len(p)] != p:
                    continue
                seen[p_i] += 1
                e = i + len(p)
                if i in bounds and e in bounds:
                    inside = sum(st[i + 1 : e])
                    if lo <= inside + 1 <= hi:
                        exact[p_i] += 1
    return seen, exact


def best_cost_ref(data: bytes, costs: dict[bytes, float], byte_cost: float) -> float:
    """Cost of the cheapest segmentation of data into single bytes and patterns."""
    best = [0.0] + [float("inf")] * len(data)
    for i in range(len(data)):
        best[i + 1] = min(best[i + 1], best[i] + byte_cost)
        for p, c in costs.items():
            if len(p) >= 2 and data.startswith(p, i):
                best[i + len(p)] = min(best[i + len(p)], best[i] + c)
    return best[len(data)]
