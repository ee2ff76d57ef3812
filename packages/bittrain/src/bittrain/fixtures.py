"""Small corpora and model sizes for tests, smoke runs and demos (no downloads, seconds to build).

``write_sample_corpus`` writes an English-like corpus of short documents from a fixed word list;
``MICRO_MODEL`` are ``--set`` overrides that make a bitswin model train in milliseconds per step.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from bitcodec.corpus_writer import CorpusWriter

WORDS = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "was",
    "he",
    "she",
    "it",
    "that",
    "for",
    "on",
    "with",
    "as",
    "his",
    "her",
    "they",
    "at",
    "be",
    "this",
    "from",
    "king",
    "queen",
    "lord",
    "lady",
    "good",
    "night",
    "love",
    "time",
    "day",
    "heart",
    "hand",
    "eyes",
    "death",
    "life",
    "man",
    "men",
    "world",
    "speak",
    "come",
    "go",
    "know",
    "make",
    "see",
    "tell",
    "think",
    "give",
    "take",
    "hear",
    "stay",
    "leave",
    "sweet",
    "fair",
    "noble",
    "true",
]

MICRO_MODEL: tuple[str, ...] = (
    "model.depths=[1, 1]",
    "model.widths=[16, 32]",
    "model.heads=[1, 2]",
    "model.windows_bits=[8, 24]",
)
# The same for the token-level baselines (byte, bpe, hf-bert): one narrow layer.
_MICRO_BPE = ("model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.vocab_size=300")
MICRO_BASELINES: dict[str, tuple[str, ...]] = {
    "byte": ("model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.window=16"),
    "bpe": _MICRO_BPE,
    "hf-bert": _MICRO_BPE,
}


def sample_documents(n_docs: int, seed: int = 0, words_per_doc: int = 60) -> list[bytes]:
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n_docs):
        n = int(rng.integers(words_per_doc // 2, words_per_doc * 3 // 2))
        words = [WORDS[i] for i in rng.integers(0, len(WORDS), size=n)]
        lines = [" ".join(words[i : i + 8]).capitalize() + "." for i in range(0, n, 8)]
        docs.append(("\n".join(lines) + "\n").encode())
    return docs


def write_sample_corpus(
    path: Path, n_docs: int = 400, seed: int = 0, val_fraction: float = 0.1
) -> Path:
    with CorpusWriter(Path(path), val_fraction=val_fraction, overwrite=True) as writer:
        for doc in sample_documents(n_docs, seed):
            writer.add(doc)
    return Path(path)
