"""Byte-level BPE for the BPE baseline (Hugging Face ``tokenizers``), exact on any bytes.

Bytes are decoded as Latin-1, so every byte is exactly one character and any byte string
(invalid UTF-8 included, windows cut in the middle of a character included) has a string form;
a token's length in characters is its length in bytes. The initial alphabet is all 256 bytes,
so nothing is ever unknown. Pre-tokenisation splits runs of ASCII letters, digits, other ASCII
symbols and non-ASCII bytes (GPT-2 style, a leading space joins the word), using ASCII
whitespace only: in Latin-1, UTF-8 continuation bytes such as 0x85 and 0xA0 would otherwise
count as whitespace.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

from bitbench.errors import BitbenchError

log = logging.getLogger(__name__)

PAD_TOKEN = "[PAD]"
MASK_TOKEN = "[MASK]"
SPECIAL_TOKENS = (PAD_TOKEN, MASK_TOKEN)
PAD_TOKEN_ID = 0
MASK_TOKEN_ID = 1
NUM_SPECIAL = len(SPECIAL_TOKENS)

_WS = r" \t\n\r\x0b\x0c"
PRE_TOKEN_PATTERN = rf" ?[A-Za-z]+| ?[0-9]+| ?[\x80-\xff]+| ?[^{_WS}A-Za-z0-9\x80-\xff]+|[{_WS}]+"


def bytes_to_str(data: bytes) -> str:
    return data.decode("latin-1")


def new_tokenizer() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Split(
        Regex(PRE_TOKEN_PATTERN), behavior="isolated", invert=False
    )
    return tokenizer


def train_bpe(pieces: Iterable[bytes], vocab_size: int) -> Tokenizer:
    """Train a byte-level BPE of ``vocab_size`` entries (2 specials + 256 bytes + merges)."""
    if vocab_size < NUM_SPECIAL + 256 + 2:
        raise BitbenchError(
            f"BPE vocab_size {vocab_size} is too small: use at least {NUM_SPECIAL + 258}"
        )
    tokenizer = new_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=[chr(i) for i in range(256)],
        show_progress=False,
    )
    tokenizer.train_from_iterator((bytes_to_str(p) for p in pieces), trainer=trainer)
    _check_specials(tokenizer, "the freshly trained tokenizer")
    return tokenizer


def _check_specials(tokenizer: Tokenizer, what: str) -> None:
    if (
        tokenizer.token_to_id(PAD_TOKEN) != PAD_TOKEN_ID
        or tokenizer.token_to_id(MASK_TOKEN) != MASK_TOKEN_ID
    ):
        raise BitbenchError(
            f"{what} lacks {PAD_TOKEN} = 0 and {MASK_TOKEN} = 1: re-train it with bitbench"
        )


def save_tokenizer(tokenizer: Tokenizer, path: Path) -> None:
    """Write tokenizer.json atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tokenizer-", suffix=".json")
    os.close(fd)
    try:
        tokenizer.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_tokenizer(path: Path) -> Tokenizer:
    path = Path(path)
    if not path.is_file():
        raise BitbenchError(f"tokenizer file '{path}' does not exist: train the BPE baseline first")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own Exception type
        raise BitbenchError(f"tokenizer file '{path}' cannot be read ({exc}): re-train it") from exc
    _check_specials(tokenizer, f"tokenizer file '{path}'")
    return tokenizer


def token_byte_lengths(tokenizer: Tokenizer) -> np.ndarray:
    """int64 [V]: bytes each token id stands for (0 for the specials)."""
    vocab = tokenizer.get_vocab()
    lengths = np.zeros(tokenizer.get_vocab_size(), dtype=np.int64)
    for token, idx in vocab.items():
        lengths[idx] = 0 if token in SPECIAL_TOKENS else len(token)
    return lengths


def split_at_doc_starts(window: np.ndarray, doc_starts: np.ndarray | None) -> list[bytes]:
    """Cut one window (uint8 [L]) where documents begin, so that no token spans two documents."""
    if doc_starts is None:
        return [window.tobytes()]
    cuts = np.flatnonzero(doc_starts)
    cuts = cuts[cuts > 0]
    bounds = [0, *cuts.tolist(), len(window)]
    return [window[a:b].tobytes() for a, b in itertools.pairwise(bounds)]


def encode_windows(
    tokenizer: Tokenizer,
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
    flat = [bytes_to_str(p) for row in rows for p in row]
    encodings = tokenizer.encode_batch(flat, add_special_tokens=False) if flat else []
    per_row_ids: list[list[int]] = []
    per_row_seg: list[list[int]] = []
    k = 0
    for row in rows:
        ids: list[int] = []
        seg: list[int] = []
        for s in range(len(row)):
            piece = encodings[k].ids
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
