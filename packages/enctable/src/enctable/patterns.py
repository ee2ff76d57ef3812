"""Sets of byte patterns stored as one concatenated uint8 array plus int64 offsets (n + 1)."""

from __future__ import annotations

import numpy as np


def empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, np.uint8), np.zeros(1, np.int64)


def gather(flat: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate flat[starts[i]:ends[i]] for every i -> (concat, offsets)."""
    lens = (ends - starts).astype(np.int64)
    offsets = np.zeros(lens.shape[0] + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    idx = np.repeat(starts.astype(np.int64) - offsets[:-1], lens) + np.arange(offsets[-1])
    return flat[idx].astype(np.uint8, copy=False), offsets


def subset(
    concat: np.ndarray, offsets: np.ndarray, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Patterns number `index` (in that order) of a set."""
    return gather(concat, offsets[:-1][index], offsets[1:][index])


def join(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Set a followed by set b."""
    concat = np.concatenate([a[0], b[0]])
    offsets = np.concatenate([a[1], b[1][1:] + a[1][-1]])
    return concat, offsets


def lengths(offsets: np.ndarray) -> np.ndarray:
    return np.diff(offsets)


def to_bytes(concat: np.ndarray, offsets: np.ndarray, i: int) -> bytes:
    return concat[offsets[i] : offsets[i + 1]].tobytes()
