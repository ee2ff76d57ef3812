"""Cut text into words at the model's own boundaries (``bitlab segment``; ``bitlab eval
--gold-seg`` runs exactly the same code).

Per line: the hard rules cut it into atoms (``seg_rules``), the model scores a word start at
every byte (the boundary head by default, or another signal: ``seg_signals``), the score of an
atom is the score of its first byte, and a decoder turns the atoms' scores into words
(``seg_decode``; the centre of the scores is searched over all lines together so that words
average the target length).

Long lines are scored in overlapping windows of ``seq_len`` bytes: each byte takes its score from
the window where it sits farthest from an edge (at least ``seq_len // 8`` bytes of context on
both sides wherever the line has them), so a window edge is never a forced cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from bittokens import DEFAULT_UNIT_BYTES
from bittrain.engine.contracts import HasBoundaries
from bittrain.engine.windows import fill_windows

from bitbench.errors import BitbenchError
from bitbench.seg_decode import DecodeOptions, decode_lines
from bitbench.seg_rules import Atoms, SegmentRules, line_atoms

# sequences -> one float32 [len(seq)] score per byte (higher = a word starts there)
ByteScorer = Callable[[Sequence[bytes]], list[np.ndarray]]
# (stage, done, total): how far long work is (the CLI draws it as a progress bar)
Progress = Callable[[str, int, int], None]


def _char_start_at_or_before(data: bytes, pos: int) -> int:
    while pos > 0 and (data[pos] & 0xC0) == 0x80:
        pos -= 1
    return pos


def overlapping_pieces(data: bytes, seq_len: int, context: int) -> list[tuple[int, int, int, int]]:
    """Windows over one sequence: (start, length, core_start, core_end) each; cores tile the
    sequence, a window starts at a character start and has ``context`` bytes before and after
    its core where the sequence has them."""
    n = len(data)
    if n <= seq_len:
        return [(0, n, 0, n)] if n else []
    context = max(0, min(context, (seq_len - 1) // 2))
    out: list[tuple[int, int, int, int]] = []
    core = 0
    while core < n:
        start = _char_start_at_or_before(data, max(0, core - context))
        end = min(n, start + seq_len)
        core_end = n if end == n else max(core + 1, end - context)
        out.append((start, end - start, core, core_end))
        core = core_end
    return out


def score_sequences(
    model: Any,
    sequences: Sequence[bytes],
    seq_len: int = 512,
    context: int | None = None,
    progress: Progress | None = None,
) -> list[np.ndarray]:
    """The boundary head's score for each byte of each sequence (float32 [len(seq)] each)."""
    if not isinstance(model, HasBoundaries):
        raise BitbenchError(
            f"a {model.kind} model has no boundary head: segmenting needs a bitswin run"
        )
    return score_in_windows(
        lambda windows, pad: model.boundary_scores(windows, pad=pad),
        sequences,
        seq_len,
        context,
        progress=progress,
    )


def score_in_windows(
    score_rows: Callable[[np.ndarray, np.ndarray], np.ndarray],
    sequences: Sequence[bytes],
    seq_len: int = 512,
    context: int | None = None,
    bucket: int = 64,
    progress: Progress | None = None,
) -> list[np.ndarray]:
    """Apply a row scorer (windows uint8 [M, W], pad bool [M, W] -> float [M, W], or [M, W, C]
    for C scores per byte) to every byte of every sequence through overlapping windows (see the
    module doc) -> float32 [len(seq)] (or [len(seq), C]) per sequence."""
    if seq_len < 1:
        raise BitbenchError(f"seq_len is {seq_len}: windows need at least one byte")
    context = seq_len // 8 if context is None else context
    scores: list[np.ndarray] = [np.zeros(len(s), dtype=np.float32) for s in sequences]
    plan = [
        (i, piece)
        for i, seq in enumerate(sequences)
        for piece in overlapping_pieces(seq, seq_len, context)
    ]
    if not plan:
        return scores
    # Rows of similar length go together (sorted, ``bucket`` rows per call), each call trimmed to
    # its longest row: short lines do not pay for the padding of long ones.
    order = sorted(range(len(plan)), key=lambda k: plan[k][1][1])
    for first in range(0, len(order), bucket):
        chunk = [plan[k] for k in order[first : first + bucket]]
        width = max(length for _, (_, length, _, _) in chunk)
        pieces = [(i, start, length) for i, (start, length, _, _) in chunk]
        windows, pad, _ = fill_windows(sequences, pieces, width)
        window_scores = np.asarray(score_rows(windows, pad), dtype=np.float32)
        if window_scores.ndim == 3 and scores[0].ndim == 1:  # channels: widen the outputs
            scores = [np.zeros((len(s), window_scores.shape[2]), np.float32) for s in sequences]
        for row, (i, (start, _, core_start, core_end)) in enumerate(chunk):
            scores[i][core_start:core_end] = window_scores[
                row, core_start - start : core_end - start
            ]
        if progress is not None:
            progress("scoring windows", min(first + bucket, len(order)), len(order))
    return scores


def char_byte_offsets(text: str) -> np.ndarray:
    """int64 [len(text) + 1]: the UTF-8 byte offset of every character (and the end)."""
    if not text:
        return np.zeros(1, dtype=np.int64)
    cps = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
    sizes = 1 + (cps >= 0x80).astype(np.int64) + (cps >= 0x800) + (cps >= 0x10000)
    return np.concatenate([[0], np.cumsum(sizes)])


@dataclass(frozen=True)
class LineSegmentation:
    """One line: its atoms, each atom's start score, and the decoded starts."""

    atoms: Atoms
    scores: np.ndarray  # float32 [atoms]
    starts: np.ndarray  # bool [atoms]
    char_offsets: np.ndarray  # int64 [chars + 1] byte offsets

    @property
    def words(self) -> list[str]:
        return self.atoms.words(self.starts)

    def byte_starts(self) -> np.ndarray:
        """bool [bytes of the line]: True at the first byte of every word."""
        out = np.zeros(int(self.char_offsets[-1]), dtype=bool)
        keep = self.starts & ~self.atoms.dropped
        out[self.char_offsets[self.atoms.bounds[:-1][keep]]] = True
        return out


@dataclass(frozen=True)
class Segmentation:
    lines: list[list[str]]  # words of each input line
    threshold: float  # the centre of the scores the decoder used
    mean_unit_bytes: float
    details: list[LineSegmentation] = field(default_factory=list, repr=False)

    def joined(self, sep: str) -> list[str]:
        return [sep.join(units) for units in self.lines]


def segment_lines(
    model: Any,
    lines: Sequence[str],
    *,
    options: DecodeOptions | None = None,
    rules: SegmentRules | None = None,
    seq_len: int = 512,
    scorer: ByteScorer | None = None,
    threshold: float | None = None,
    target_unit_bytes: float | None = None,
    progress: Progress | None = None,
) -> Segmentation:
    """Each line cut into words (strings), one list per line. ``scorer`` gives the per-byte
    scores (default: the model's boundary head); ``threshold`` / ``target_unit_bytes`` override
    the same fields of ``options``; ``progress`` hears of the stages (a scorer reports its own)."""
    report = progress or (lambda stage, done, total: None)
    options = options or DecodeOptions()
    if threshold is not None or target_unit_bytes is not None:
        options = replace(
            options,
            threshold=threshold if threshold is not None else options.threshold,
            target_unit_bytes=target_unit_bytes or options.target_unit_bytes,
        )
    rules = rules or SegmentRules()
    data = [line.encode("utf-8") for line in lines]
    if scorer is None:
        byte_scores = score_sequences(model, data, seq_len, progress=progress)
    else:
        byte_scores = scorer(data)
    report("cutting into atoms", 0, 1)
    atoms = [line_atoms(line, rules) for line in lines]
    offsets = [char_byte_offsets(line) for line in lines]
    atom_scores, atom_bytes = [], []
    for a, off, s in zip(atoms, offsets, byte_scores, strict=True):
        first_bytes = off[a.bounds[:-1]]
        atom_scores.append(np.asarray(s, dtype=np.float32)[first_bytes])
        sizes = np.diff(off[a.bounds]).astype(np.float64)
        atom_bytes.append(np.where(a.dropped, 0.0, sizes))
    target = options.target_unit_bytes or (
        model.target_unit_bytes if isinstance(model, HasBoundaries) else DEFAULT_UNIT_BYTES
    )
    report("decoding", 0, 1)
    decoded = decode_lines(atom_scores, [a.forced for a in atoms], atom_bytes, options, target)
    report("decoding", 1, 1)
    details = [
        LineSegmentation(a, sc, st, off)
        for a, sc, st, off in zip(atoms, atom_scores, decoded.starts, offsets, strict=True)
    ]
    words = [d.words for d in details]
    total_bytes = sum(float(b.sum()) for b in atom_bytes)
    total_words = sum(len(w) for w in words)
    mean = total_bytes / total_words if total_words else 0.0
    return Segmentation(words, decoded.centre, mean, details)
