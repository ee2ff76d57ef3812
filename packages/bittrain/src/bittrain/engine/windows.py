"""Byte sequences of any length packed into the fixed-width, padded windows every model reads.

``pack_windows`` cuts each sequence into consecutive pieces of at most ``seq_len`` bytes;
``fill_windows`` lays given pieces (sequence index, offset, length) into rows, padding the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bittrain.errors import BittrainError


def pack_windows(
    sequences: Sequence[bytes], seq_len: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """Cut sequences into windows of at most ``seq_len`` bytes -> (windows uint8 [M, seq_len],
    pad bool [M, seq_len], pieces (sequence index, offset, length) per window)."""
    if seq_len < 1:
        raise BittrainError(f"seq_len is {seq_len}: windows need at least one byte")
    pieces = [
        (i, start, min(seq_len, len(seq) - start))
        for i, seq in enumerate(sequences)
        for start in range(0, len(seq), seq_len)
    ]
    return fill_windows(sequences, pieces, seq_len)


def fill_windows(
    sequences: Sequence[bytes], pieces: list[tuple[int, int, int]], seq_len: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    windows = np.zeros((len(pieces), seq_len), dtype=np.uint8)
    pad = np.ones((len(pieces), seq_len), dtype=bool)
    for row, (i, start, length) in enumerate(pieces):
        windows[row, :length] = np.frombuffer(sequences[i][start : start + length], dtype=np.uint8)
        pad[row, :length] = False
    return windows, pad, pieces
