"""The byte-level BPE every token model of bitlab shares: Hugging Face ``tokenizers`` BPE with the
``ByteLevel`` pre-tokenizer (GPT-2's), made exact on any bytes.

The vocabulary holds ``[PAD]`` = 0 and ``[MASK]`` = 1, the 256 byte symbols and the merges; a
token stands for ``len(token)`` bytes (one symbol per byte). Encoding is exact on any bytes:
``ByteLevel`` works on strings, so each piece is cut into maximal valid UTF-8 runs (encoded by the
tokenizer) and single invalid bytes (their byte symbol), and ``[PAD]``/``[MASK]`` written in the
text are ordinary text, never the special ids (``encode_special_tokens``).

A corpus's *reference* BPE (the one the evaluation protocols, the ``bpe`` and ``hf-bert``
baselines and the table comparison use) is this BPE trained on the corpus's train split and
cached: ``bittrain.reference_bpe.reference_bpe``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from bitswin.hub import write_atomic
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from bitbaselines.errors import BitbaselinesError

PAD_TOKEN = "[PAD]"
MASK_TOKEN = "[MASK]"
SPECIAL_TOKENS = (PAD_TOKEN, MASK_TOKEN)
PAD_TOKEN_ID = 0
MASK_TOKEN_ID = 1
NUM_SPECIAL = len(SPECIAL_TOKENS)
MIN_VOCAB = NUM_SPECIAL + 256 + 1  # specials, the byte alphabet and at least one merge
REFERENCE_VOCAB = 8192  # the protocols' reference size (= the bpe baseline's default)


@lru_cache(maxsize=1)
def byte_symbols() -> tuple[str, ...]:
    """GPT-2's byte -> printable character table (what ``ByteLevel`` maps byte b to)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return tuple(table[b] for b in range(256))


def utf8_runs(data: bytes) -> list[tuple[int, int, bool]]:
    """[start, end, valid) pieces of ``data``: maximal valid UTF-8 runs and single bad bytes."""
    view = memoryview(data)
    out: list[tuple[int, int, bool]] = []
    pos, n = 0, len(data)
    while pos < n:
        try:
            str(view[pos:], "utf-8")
        except UnicodeDecodeError as exc:
            if exc.start > 0:
                out.append((pos, pos + exc.start, True))
            stop = pos + max(exc.end, exc.start + 1)
            out.extend((b, b + 1, False) for b in range(pos + exc.start, stop))
            pos = stop
            continue
        out.append((pos, n, True))
        break
    return out


def _valid_strings(texts: Iterable[bytes]) -> Iterator[str]:
    for text in texts:
        for start, end, valid in utf8_runs(text):
            if valid:
                yield text[start:end].decode("utf-8")


def train_reference_bpe(texts: Iterable[bytes], vocab_size: int) -> Any:
    """Train the byte-level BPE (``vocab_size`` entries: 2 specials, 256 bytes, merges) on
    ``texts``. Merges never cross a piece, an invalid byte or a pre-token (GPT-2 split)."""

    if vocab_size < MIN_VOCAB:
        raise BitbaselinesError(
            f"BPE vocabulary size {vocab_size} is below {MIN_VOCAB}: byte-level BPE needs 2 "
            "specials, the 256 byte symbols and at least one merge"
        )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=list(SPECIAL_TOKENS),
    )
    tokenizer.train_from_iterator(_valid_strings(texts), trainer=trainer)
    return _prepared(tokenizer, "the freshly trained BPE")


def _prepared(tokenizer: Any, what: str) -> Any:
    """Check that ``tokenizer`` is a reference BPE and make specials in text plain text."""

    pre = json.loads(tokenizer.to_str()).get("pre_tokenizer") or {}
    if pre.get("type") != "ByteLevel":
        raise BitbaselinesError(
            f"{what} is not a byte-level (ByteLevel) BPE but {pre.get('type')!r}: it was made by "
            "an earlier bitbench's Latin-1 tokenizer, which bitlab no longer reads; retrain the "
            "run (`bitlab baseline train --kind bpe`)"
        )
    if tokenizer.token_to_id(PAD_TOKEN) != PAD_TOKEN_ID or (
        tokenizer.token_to_id(MASK_TOKEN) != MASK_TOKEN_ID
    ):
        raise BitbaselinesError(f"{what} lacks {PAD_TOKEN} = 0 and {MASK_TOKEN} = 1: retrain it")
    tokenizer.encode_special_tokens = True  # "[MASK]" in the text is text (not serialised)
    return tokenizer


def save_tokenizer(tokenizer: Any, path: Path) -> None:
    """Write tokenizer.json atomically."""
    write_atomic(path, tokenizer.save)


def load_tokenizer(path: Path) -> Any:
    """A saved reference BPE (tokenizer.json), checked."""

    path = Path(path)
    if not path.is_file():
        raise BitbaselinesError(
            f"tokenizer file '{path}' does not exist: train the BPE baseline first"
        )
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own Exception type
        raise BitbaselinesError(
            f"tokenizer file '{path}' cannot be read ({exc}): re-train it"
        ) from exc
    return _prepared(tokenizer, f"tokenizer file '{path}'")


def _tables(tokenizer: Any) -> tuple[np.ndarray, np.ndarray]:
    """(id of each byte's symbol int64 [256], bytes per token id int64 [V]), kept on the
    tokenizer object after the first call."""
    cached = getattr(tokenizer, "_bitbench_tables", None)
    if cached is None:
        ids = [tokenizer.token_to_id(s) for s in byte_symbols()]
        if any(i is None for i in ids):
            raise BitbaselinesError("the BPE lacks some of the 256 byte symbols: retrain it")
        cached = (np.asarray(ids, dtype=np.int64), token_byte_lengths(tokenizer))
        tokenizer._bitbench_tables = cached
    return cached


def encode_pieces(tokenizer: Any, pieces: Sequence[bytes]) -> list[np.ndarray]:
    """Token ids (int64) of each piece, exact on any bytes: valid UTF-8 runs go through the
    tokenizer, every invalid byte is its byte symbol (tokens never cross an invalid byte)."""
    symbol_ids = _tables(tokenizer)[0]
    runs = [utf8_runs(p) for p in pieces]
    texts = [
        p[a:b].decode("utf-8") for p, rs in zip(pieces, runs, strict=True) for a, b, ok in rs if ok
    ]
    encoded = iter(tokenizer.encode_batch(texts, add_special_tokens=False) if texts else [])
    out: list[np.ndarray] = []
    for piece, rs in zip(pieces, runs, strict=True):
        parts = [
            np.asarray(next(encoded).ids, dtype=np.int64)
            if ok
            else symbol_ids[piece[a : a + 1][0]][None]
            for a, _, ok in rs
        ]
        out.append(np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64))
    return out


def token_byte_lengths(tokenizer: Any) -> np.ndarray:
    """int64 [V]: bytes each token id stands for (0 for the specials)."""
    lengths = np.zeros(tokenizer.get_vocab_size(), dtype=np.int64)
    for token, idx in tokenizer.get_vocab().items():
        lengths[idx] = 0 if token in SPECIAL_TOKENS else len(token)
    return lengths


def token_bytes_table(tokenizer: Any) -> list[bytes]:
    """The bytes each token id stands for (b"" for the specials): its symbols mapped back
    through ``byte_symbols``."""
    byte_of = {sym: b for b, sym in enumerate(byte_symbols())}
    table = [b""] * tokenizer.get_vocab_size()
    for token, idx in tokenizer.get_vocab().items():
        if token not in SPECIAL_TOKENS:
            table[idx] = bytes(byte_of[ch] for ch in token)
    return table


def token_starts(tokenizer: Any, data: bytes) -> np.ndarray:
    """bool [len(data)]: True at the first byte of every token of ``data`` (one piece)."""
    lengths = _tables(tokenizer)[1][encode_pieces(tokenizer, [data])[0]]
    starts = np.zeros(len(data), dtype=bool)
    starts[np.cumsum(lengths) - lengths] = True
    return starts
