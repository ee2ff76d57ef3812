"""Cut text at the model's own unit boundaries (``bitlab segment``), and score arbitrary byte
sequences with the boundary head (also used by ``bitlab eval --gold-seg``).

Long sequences are scored in consecutive windows of ``seq_len`` bytes (a window's first byte is
then a forced start). The threshold is either given, or chosen so that the mean unit length over
the scored bytes equals the run's ``target_unit_bytes`` (the length its units trained towards).
For display, cuts are only made at character starts: a predicted start on a UTF-8 continuation
byte is dropped, so every unit decodes on its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bitbench.errors import BitbenchError
from bitbench.metrics import starts_from_scores, threshold_for_mean_length


@dataclass(frozen=True)
class ScoredSequences:
    """Boundary scores of several sequences, scored in windows."""

    scores: list[np.ndarray]  # one float32 [len(seq)] per sequence
    window_starts: list[np.ndarray]  # bool [len(seq)]: True where a scoring window began


def pack_windows(
    sequences: Sequence[bytes], seq_len: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """Cut sequences into windows of at most ``seq_len`` bytes -> (windows uint8 [M, seq_len],
    pad bool [M, seq_len], pieces (sequence index, offset, length) per window)."""
    if seq_len < 1:
        raise BitbenchError(f"seq_len is {seq_len}: windows need at least one byte")
    pieces = [
        (i, start, min(seq_len, len(seq) - start))
        for i, seq in enumerate(sequences)
        for start in range(0, len(seq), seq_len)
    ]
    windows = np.zeros((len(pieces), seq_len), dtype=np.uint8)
    pad = np.ones((len(pieces), seq_len), dtype=bool)
    for row, (i, start, length) in enumerate(pieces):
        windows[row, :length] = np.frombuffer(sequences[i][start : start + length], dtype=np.uint8)
        pad[row, :length] = False
    return windows, pad, pieces


def score_sequences(model: Any, sequences: Sequence[bytes], seq_len: int = 512) -> ScoredSequences:
    """Boundary scores for each byte of each sequence (the model needs ``boundary_scores``)."""
    if not hasattr(model, "boundary_scores"):
        raise BitbenchError(
            f"a {getattr(model, 'kind', '?')} model has no boundary head: segmenting needs a bitswin run"
        )
    scores = [np.zeros(len(s), dtype=np.float32) for s in sequences]
    window_starts = [np.zeros(len(s), dtype=bool) for s in sequences]
    if not any(len(s) for s in sequences):
        return ScoredSequences(scores, window_starts)
    windows, pad, pieces = pack_windows(sequences, seq_len)
    # Trim the padded tail that no window uses (saves work for short lines).
    used = int((~pad).sum(axis=1).max())
    window_scores = model.boundary_scores(windows[:, :used], pad=pad[:, :used])  # [M, used]
    for row, (i, start, length) in enumerate(pieces):
        scores[i][start : start + length] = window_scores[row, :length]
        window_starts[i][start] = True
    return ScoredSequences(scores, window_starts)


def choose_threshold(scored: ScoredSequences, target_unit_bytes: float) -> float:
    """The threshold giving ``target_unit_bytes`` bytes per unit over all scored bytes."""
    if not scored.scores or not any(s.size for s in scored.scores):
        return 0.0
    return threshold_for_mean_length(np.concatenate(scored.scores), target_unit_bytes)


def char_start_mask(data: bytes) -> np.ndarray:
    """True at bytes that are not UTF-8 continuation bytes (10xxxxxx)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    return (arr & 0xC0) != 0x80


def cut_units(data: bytes, starts: np.ndarray) -> list[bytes]:
    """Split ``data`` before every True of ``starts`` (position 0 always starts a unit)."""
    cuts = [0, *(np.flatnonzero(np.asarray(starts)[1:]) + 1).tolist(), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(cuts) if b > a]


@dataclass(frozen=True)
class Segmentation:
    lines: list[list[str]]  # units of each input line
    threshold: float
    mean_unit_bytes: float

    def joined(self, sep: str) -> list[str]:
        return [sep.join(units) for units in self.lines]


def segment_lines(
    model: Any,
    lines: Sequence[str],
    *,
    threshold: float | None = None,
    target_unit_bytes: float | None = None,
    seq_len: int = 512,
) -> Segmentation:
    """Each line cut into the model's units (strings), one list per line."""
    data = [line.encode("utf-8") for line in lines]
    scored = score_sequences(model, data, seq_len)
    if threshold is None:
        target = target_unit_bytes or float(getattr(model, "target_unit_bytes", 5.0))
        threshold = choose_threshold(scored, target)
    units: list[list[str]] = []
    total_bytes = total_units = 0
    for seq, scores in zip(data, scored.scores, strict=True):
        starts = (starts_from_scores(scores, threshold) | _first(len(seq))) & char_start_mask(seq)
        pieces = cut_units(seq, starts)
        units.append([p.decode("utf-8", errors="replace") for p in pieces])
        total_bytes += len(seq)
        total_units += len(pieces)
    mean = total_bytes / total_units if total_units else 0.0
    return Segmentation(units, float(threshold), mean)


def _first(n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    if n:
        out[0] = True
    return out
