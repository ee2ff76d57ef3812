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


def punctuation_starts(data: np.ndarray) -> np.ndarray:
    """bool[n]: whitespace word starts plus, inside a word, every change between letters,
    digits and other symbols (ASCII classes; bytes >= 0x80 count as letters). Whitespace stays
    attached to the unit before it, so "lord, my" -> "lord" | ", " | "my"."""
    ws = np.isin(data, WHITESPACE)
    digit = (data >= 48) & (data <= 57)
    letter = ((data | 0x20) >= 97) & ((data | 0x20) <= 122) | (data >= 0x80) | (data == 39)
    cls = np.where(letter, 0, np.where(digit, 1, 2))
    prev_cls = np.concatenate([[-1], cls[:-1]])
    prev_ws = np.concatenate([[True], ws[:-1]])
    return ~ws & (prev_ws | (cls != prev_cls))


def _context_entropy(ctx: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """For each position, entropy (bits) of `nxt` among all positions sharing its `ctx`."""
    ctx_ids, ctx_inv = np.unique(ctx, return_inverse=True)
    nxt_ids, nxt_inv = np.unique(nxt, return_inverse=True)
    pair = ctx_inv.astype(np.int64) * nxt_ids.shape[0] + nxt_inv
    pairs, pair_inv, pair_counts = np.unique(pair, return_inverse=True, return_counts=True)
    pair_ctx = pairs // nxt_ids.shape[0]
    total = np.bincount(pair_ctx, weights=pair_counts, minlength=ctx_ids.shape[0])
    plogp = np.bincount(
        pair_ctx, weights=pair_counts * np.log2(pair_counts), minlength=ctx_ids.shape[0]
    )
    entropy = np.log2(np.maximum(total, 1)) - plogp / np.maximum(total, 1)
    del pair_inv
    return entropy[ctx_inv]


def branching_entropy_scores(text: str, orders: tuple[int, ...] = (1, 2, 3)) -> np.ndarray:
    """float64[len(text.encode())]: a model-free unit-start score per byte (Tanaka-Ishii's
    branching entropy, computed from the text itself).

    At character i: mean over n of H(next char | the n chars before i) (high where a word
    ends, since many things can follow) plus mean over n of H(previous char | the n chars from
    i) (high where a word starts). Continuation bytes of a character get -inf.
    """
    cps = np.array([ord(c) for c in text], np.int64)  # [C]
    n_chars = cps.shape[0]
    score = np.zeros(n_chars)
    for n in orders:
        if n_chars <= n:
            continue
        # context = the n chars ending at j (packed into one int64: code points < 2**21)
        key = np.zeros(n_chars - n + 1, np.int64)
        for t in range(n):
            key = (key << 21) | cps[t : n_chars - n + 1 + t]
        # right: context chars[j-n:j] -> next chars[j], scored at char j
        right = _context_entropy(key[:-1], cps[n:])  # for j = n..C-1
        score[n:] += right / len(orders)
        # left: context chars[j:j+n] -> previous chars[j-1], scored at char j
        left = _context_entropy(key[1:], cps[: n_chars - n])  # for j = 1..C-n
        score[1 : n_chars - n + 1] += left / len(orders)
    lens = np.array([len(c.encode("utf-8")) for c in text], np.int64)
    out = np.full(int(lens.sum()), -np.inf)
    out[np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)] = score
    return out
