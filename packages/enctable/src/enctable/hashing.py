"""Stable 64-bit FNV-1a hashes of byte spans, and an open-addressing index of pattern prefixes.

Python's ``hash`` is salted per process; FNV-1a over the bytes gives the same key on every
machine and run, so tables built from the same inputs are identical. Key 0 marks an empty
slot of the index, so a (vanishingly rare) hash of 0 is stored as 1.
"""

from __future__ import annotations

import numba as nb
import numpy as np

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
EMPTY_KEY = np.uint64(0)


@nb.njit(cache=True, inline="always")
def fnv_step(h: np.uint64, byte: np.uint8) -> np.uint64:
    return (h ^ np.uint64(byte)) * FNV_PRIME


@nb.njit(cache=True, inline="always")
def nonzero_key(h: np.uint64) -> np.uint64:
    return h if h != EMPTY_KEY else np.uint64(1)


@nb.njit(cache=True)
def hash_spans(flat: np.ndarray, starts: np.ndarray, ends: np.ndarray, out: np.ndarray) -> None:
    """out[i] = FNV-1a of flat[starts[i]:ends[i]] (flat uint8[N]; starts, ends int64[n])."""
    for i in range(starts.shape[0]):
        h = FNV_OFFSET
        for j in range(starts[i], ends[i]):
            h = fnv_step(h, flat[j])
        out[i] = nonzero_key(h)


def fnv1a64_reference(data: bytes) -> int:
    """Plain-Python FNV-1a 64 (the reference the kernels are tested against)."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h if h != 0 else 1


# ---------------------------------------------------------------- prefix index


@nb.njit(cache=True)
def _slot_of(keys: np.ndarray, h: np.uint64) -> int:
    mask = np.uint64(keys.shape[0] - 1)
    s = h & mask
    while True:
        k = keys[s]
        if k in (h, EMPTY_KEY):
            return np.int64(s)
        s = (s + np.uint64(1)) & mask


@nb.njit(cache=True)
def find(keys: np.ndarray, vals: np.ndarray, h: np.uint64) -> int:
    """Value stored for key h: a pattern index >= 0, -1 for a prefix only, -2 when absent."""
    s = _slot_of(keys, h)
    if keys[s] == EMPTY_KEY:
        return -2
    return vals[s]


@nb.njit(cache=True)
def build_prefix_index(
    concat: np.ndarray, offsets: np.ndarray, keys: np.ndarray, vals: np.ndarray
) -> None:
    """Insert every prefix of every pattern (pattern i = concat[offsets[i]:offsets[i+1]]).

    keys/vals are preallocated (size a power of two >= 2x the number of prefixes, keys zeroed);
    vals[slot] = i where the prefix is the whole pattern i, else -1. A walk over the data can
    stop as soon as a prefix is absent.
    """
    for i in range(offsets.shape[0] - 1):
        h = FNV_OFFSET
        a = offsets[i]
        b = offsets[i + 1]
        for j in range(a, b):
            h = fnv_step(h, concat[j])
            k = nonzero_key(h)
            s = _slot_of(keys, k)
            if keys[s] == EMPTY_KEY:
                keys[s] = k
                vals[s] = -1
            if j == b - 1:
                vals[s] = i


def make_prefix_index(concat: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Open-addressing index of all prefixes of the patterns (see build_prefix_index)."""
    n_prefixes = int(offsets[-1] - offsets[0]) if offsets.shape[0] > 1 else 0
    size = 16
    while size < 2 * n_prefixes + 2:
        size *= 2
    keys = np.zeros(size, dtype=np.uint64)
    vals = np.full(size, -2, dtype=np.int64)
    build_prefix_index(concat, offsets.astype(np.int64), keys, vals)
    return keys, vals
