"""Windows of bytes as the token models read them: padded token-id arrays with segment ids, cut
where documents begin. The tokenizer itself (training, the exact byte encoder, saving and
loading) is :mod:`bitbaselines.bpe`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from bitbaselines.bpe import PAD_TOKEN_ID, encode_pieces


def split_at_doc_starts(window: np.ndarray, doc_starts: np.ndarray | None) -> list[bytes]:
    """Cut one window (uint8 [L]) where documents begin, so that no token spans two documents."""
    if doc_starts is None:
        return [window.tobytes()]
    cuts = np.flatnonzero(doc_starts)
    cuts = cuts[cuts > 0]
    bounds = [0, *cuts.tolist(), len(window)]
    return [window[a:b].tobytes() for a, b in itertools.pairwise(bounds)]


def encode_windows(
    tokenizer,
    windows: np.ndarray | Sequence[bytes],
    doc_starts: np.ndarray | None = None,
    *,
    max_tokens: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tokenise byte windows; returns (ids int64 [B, T], segment ids int64 [B, T],
    lengths int64 [B]) padded with PAD_TOKEN_ID to the longest row (T <= max_tokens).

    windows: uint8 [B, L] or a list of byte strings; doc_starts: bool [B, L] (optional). A row
    longer than max_tokens keeps its first max_tokens tokens (the rest is not seen or scored).
    """
    rows: list[list[bytes]] = []
    for b in range(len(windows)):
        w = windows[b]
        if isinstance(w, (bytes, bytearray)):
            rows.append([bytes(w)])
        else:
            ds = None if doc_starts is None else np.asarray(doc_starts[b])
            rows.append(split_at_doc_starts(np.asarray(w, dtype=np.uint8), ds))
    flat = [p for row in rows for p in row]
    encodings = encode_pieces(tokenizer, flat)
    per_row_ids: list[list[int]] = []
    per_row_seg: list[list[int]] = []
    k = 0
    for row in rows:
        ids: list[int] = []
        seg: list[int] = []
        for s in range(len(row)):
            piece = encodings[k].tolist()
            k += 1
            ids.extend(piece)
            seg.extend([s] * len(piece))
        per_row_ids.append(ids[:max_tokens])
        per_row_seg.append(seg[:max_tokens])
    T = max([len(r) for r in per_row_ids] + [1])
    B = len(rows)
    out_ids = np.full((B, T), PAD_TOKEN_ID, dtype=np.int64)
    out_seg = np.full((B, T), -1, dtype=np.int64)
    lengths = np.zeros(B, dtype=np.int64)
    for b, (ids, seg) in enumerate(zip(per_row_ids, per_row_seg, strict=True)):
        out_ids[b, : len(ids)] = ids
        out_seg[b, : len(seg)] = seg
        lengths[b] = len(ids)
    return out_ids, out_seg, lengths
