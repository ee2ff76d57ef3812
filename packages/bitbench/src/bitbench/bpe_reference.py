"""The token-encoding bar for the encoding table: a byte-level BPE (Hugging Face ``tokenizers``)
trained on the same split with the same vocabulary size, measured like a table level.

Byte-level BPE maps every byte to one of 256 printable symbols first, so nothing is out of
vocabulary; its pre-tokenizer splits GPT-2 style (words with their leading space, digits,
punctuation runs), so tokens never cross those pieces. Texts are given as bytes; they are
decoded as UTF-8 with replacement for training (byte-level BPE works on strings), while byte
counts always use the original bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from bitbench.compression import LevelStats, level_stats_from_codes
from bitbench.errors import BitbenchError

log = logging.getLogger(__name__)

MIN_VOCAB = 256 + 1  # the byte alphabet plus at least one merge


def _texts_as_str(texts: Iterable[bytes], max_bytes: int | None) -> Iterator[str]:
    seen = 0
    for text in texts:
        if max_bytes is not None and seen >= max_bytes:
            return
        if max_bytes is not None:
            text = text[: max_bytes - seen]
        seen += len(text)
        yield text.decode("utf-8", errors="replace")


def train_byte_bpe(
    texts: Iterable[bytes], vocab_size: int, *, max_bytes: int | None = 32 << 20
) -> Any:
    """Train a byte-level BPE tokenizer with ``vocab_size`` entries (256 byte symbols included)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if vocab_size < MIN_VOCAB:
        raise BitbenchError(
            f"BPE vocabulary size {vocab_size} is below {MIN_VOCAB}: byte-level BPE needs the 256 "
            "byte symbols plus merges; compare against a table level with more codes"
        )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tokenizer.train_from_iterator(_texts_as_str(texts, max_bytes), trainer=trainer)
    log.info("trained byte-level BPE: %d entries", tokenizer.get_vocab_size())
    return tokenizer


def bpe_stats(
    tokenizer: Any, texts: Iterable[bytes], level: int = -1
) -> tuple[LevelStats, np.ndarray]:
    """Tokens per text, measured like a table level: (LevelStats, all token ids). A text
    round-trips when decoding its ids gives back its exact bytes."""
    codes: list[np.ndarray] = []
    num_bytes = 0
    exact = True
    for text in texts:
        if not text:
            continue
        as_str = text.decode("utf-8", errors="replace")
        ids = tokenizer.encode(as_str).ids
        exact = exact and tokenizer.decode(ids).encode("utf-8") == text
        codes.append(np.asarray(ids, dtype=np.int64))
        num_bytes += len(text)
    joined = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)
    stats = level_stats_from_codes(level, tokenizer.get_vocab_size(), num_bytes, joined, exact)
    return stats, joined
