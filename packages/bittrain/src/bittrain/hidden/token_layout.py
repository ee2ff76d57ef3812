"""Rows of bytes cut into pieces and tokenised piece by piece: where every token sits in its row.

A row's pieces are its maximal runs of real (non-padding) bytes, cut again at document starts and
at any extra ``cuts`` (the evaluation protocols cut at the edges of hidden spans, so that no token
of the model's input depends on bytes on the other side of an edge). Each piece is tokenised on
its own by an ``encode`` function: pieces -> (ids, first byte of each token in its piece, bytes
each token covers). The reference BPE covers every byte exactly; a foreign tokenizer (a Hugging
Face model's own) may skip bytes (whitespace, say) and then covers less.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from bitbaselines.bpe import encode_pieces, token_byte_lengths

# pieces -> per piece (ids int64 [T], starts int64 [T] within the piece, lengths int64 [T])
PieceEncoder = Callable[[Sequence[bytes]], list[tuple[np.ndarray, np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class RowTokens:
    """The tokens of one row, in order."""

    ids: np.ndarray  # int64 [T]
    starts: np.ndarray  # int64 [T] first byte of each token in the row
    lengths: np.ndarray  # int64 [T] bytes each token covers
    docs: np.ndarray  # int64 [T] document of each token: 0, then +1 at each document start

    def __len__(self) -> int:
        return int(self.ids.size)


def piece_bounds(real: np.ndarray, cuts: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of the maximal runs of ``real`` (bool [L]) cut where ``cuts`` (bool [L])."""
    real = np.asarray(real, dtype=bool)
    prev = np.concatenate([[False], real[:-1]])
    begins = real & (~prev | np.asarray(cuts, dtype=bool))  # [L]
    starts = np.flatnonzero(begins)
    out = []
    for k, a in enumerate(starts.tolist()):
        limit = int(starts[k + 1]) if k + 1 < starts.size else real.size
        stop = np.flatnonzero(~real[a:limit])
        out.append((a, a + int(stop[0]) if stop.size else limit))
    return out


def layout_rows(
    encode: PieceEncoder,
    windows: np.ndarray,
    *,
    doc_starts: np.ndarray | None = None,
    pad: np.ndarray | None = None,
    cuts: np.ndarray | None = None,
) -> list[RowTokens]:
    """Tokenise every row of ``windows`` (uint8 [N, L]) piece by piece (see the module doc)."""
    windows = np.asarray(windows, dtype=np.uint8)
    n, length = windows.shape
    real = np.ones((n, length), dtype=bool) if pad is None else ~np.asarray(pad, dtype=bool)
    starts_doc = (
        np.zeros((n, length), dtype=bool) if doc_starts is None else np.asarray(doc_starts, bool)
    )
    extra = np.zeros((n, length), dtype=bool) if cuts is None else np.asarray(cuts, dtype=bool)
    bounds = [piece_bounds(real[r], starts_doc[r] | extra[r]) for r in range(n)]
    flat = [windows[r, a:b].tobytes() for r in range(n) for a, b in bounds[r]]
    encoded = iter(encode(flat))
    rows: list[RowTokens] = []
    for r in range(n):
        doc_index = np.cumsum(starts_doc[r]) - int(starts_doc[r, 0])  # [L]
        ids, starts, lengths = [], [], []
        for a, _ in bounds[r]:
            piece_ids, piece_starts, piece_lengths = next(encoded)
            ids.append(piece_ids)
            starts.append(piece_starts + a)
            lengths.append(piece_lengths)
        row_starts = _cat(starts)
        rows.append(
            RowTokens(
                ids=_cat(ids),
                starts=row_starts,
                lengths=_cat(lengths),
                docs=doc_index[row_starts].astype(np.int64),
            )
        )
    return rows


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def token_start_mask(rows: Sequence[RowTokens], shape: tuple[int, int]) -> np.ndarray:
    """bool [N, L]: True at the first byte of every token."""
    out = np.zeros(shape, dtype=bool)
    for r, row in enumerate(rows):
        out[r, row.starts] = True
    return out


def reference_encoder(tokenizer: Any) -> PieceEncoder:
    """The exact piece encoder of a reference BPE (bitbaselines.bpe)."""

    lengths_of = token_byte_lengths(tokenizer)

    def encode(pieces: Sequence[bytes]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        out = []
        for ids in encode_pieces(tokenizer, list(pieces)):
            lengths = lengths_of[ids]
            out.append((ids, np.cumsum(lengths) - lengths, lengths))
        return out

    return encode
