"""Model-free unit starts and batching, for feeding a table from plain text.

A trained model gives `update_tables` its boundary scores; without one (bootstrapping, tests,
the benchmark's references) these priors stand in: whitespace word starts, or starts from
segmented text (words separated by spaces, as in the SIGHAN files).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

WHITESPACE = np.array([9, 10, 11, 12, 13, 32], np.uint8)


def whitespace_starts(data: np.ndarray) -> np.ndarray:
    """bool[n]: the first byte of each maximal run of non-whitespace bytes (data uint8[n])."""
    ws = np.isin(data, WHITESPACE)
    prev = np.concatenate([[True], ws[:-1]])
    return ~ws & prev


def segmented_starts(lines: list[list[str]], line_end: str = "\n") -> tuple[bytes, np.ndarray]:
    """Join pre-segmented lines (lists of words) without separators -> (bytes, bool starts).

    Every word starts a unit, and so does each line end.
    """
    chunks: list[bytes] = []
    starts: list[np.ndarray] = []
    for words in lines:
        for w in [*words, line_end]:
            b = w.encode("utf-8")
            if not b:
                continue
            chunks.append(b)
            s = np.zeros(len(b), bool)
            s[0] = True
            starts.append(s)
    if not chunks:
        return b"", np.zeros(0, bool)
    return b"".join(chunks), np.concatenate(starts)


def text_batches(
    data: bytes, scores: np.ndarray, row_len: int, rows: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(uint8[B, L], float64[B, L]) batches of consecutive rows of data; the tail is dropped."""
    arr = np.frombuffer(data, np.uint8)
    n = arr.shape[0] // row_len
    x = arr[: n * row_len].reshape(n, row_len)  # [N, L]
    s = np.asarray(scores, np.float64)[: n * row_len].reshape(n, row_len)
    for i in range(0, n, rows):
        yield x[i : i + rows], s[i : i + rows]
