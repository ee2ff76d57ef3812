"""A corpus's reference BPE: the byte-level BPE of :mod:`bitbaselines.bpe` trained on the train
split, cached on disk.

It is used everywhere a BPE appears: the ``tokens`` / ``words`` evaluation protocols
(:mod:`bittrain.hidden.spans`), the ``bpe`` and ``hf-bert`` baselines, and the encoding-table
comparison. ``reference_bpe(train_split, vocab_size)`` is a deterministic function of the split's
first ``REFERENCE_TRAIN_BYTES`` bytes and the vocabulary size; the trained tokenizer is kept in a
cache keyed by a digest of exactly those bytes (``$BITLAB_CACHE`` or ``~/.cache/bitlab``), so it
is trained once per corpus and size.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bitbaselines.bpe import REFERENCE_VOCAB, load_tokenizer, save_tokenizer, train_reference_bpe
from bitbaselines.errors import BitbaselinesError

log = logging.getLogger(__name__)

REFERENCE_TRAIN_BYTES = 32 << 20  # train bytes the reference reads (the split's first ones)
RECIPE = "bitbench-reference-bpe-v1"  # part of the cache key: bump when training changes


def cache_root() -> Path:
    """Where reference BPEs are kept: $BITLAB_CACHE, else ~/.cache/bitlab."""
    env = os.environ.get("BITLAB_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "bitlab"


def train_documents(split: Any, max_bytes: int = REFERENCE_TRAIN_BYTES) -> list[bytes]:
    """The split's first ``max_bytes`` bytes as documents (the last one may be cut)."""
    end = min(int(split.num_bytes), int(max_bytes))
    if end <= 0:
        raise BitbaselinesError("the train split is empty: prepare a corpus with some text in it")
    data = np.asarray(split.data()[:end])
    offsets = np.asarray(split.offsets, dtype=np.int64)
    cuts = [0, *offsets[(offsets > 0) & (offsets < end)].tolist(), end]
    return [data[a:b].tobytes() for a, b in itertools.pairwise(cuts) if b > a]


def documents_digest(docs: Sequence[bytes]) -> str:
    """blake2b of the recipe, each document's length and bytes (the cache key)."""
    h = hashlib.blake2b(RECIPE.encode(), digest_size=16)
    for doc in docs:
        h.update(len(doc).to_bytes(8, "little"))
        h.update(doc)
    return h.hexdigest()


_MEMORY: dict[tuple[str, int], Any] = {}


def reference_bpe(
    split: Any,
    vocab_size: int = REFERENCE_VOCAB,
    *,
    max_bytes: int = REFERENCE_TRAIN_BYTES,
    cache_dir: str | Path | None = None,
) -> Any:
    """The reference BPE of a train split (a bitcodec CorpusSplit): from memory, from the disk
    cache, or trained now and cached (atomic write; concurrent ranks write the same file)."""
    docs = train_documents(split, max_bytes)
    key = (documents_digest(docs), int(vocab_size))
    if key in _MEMORY:
        return _MEMORY[key]
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    path = root / "reference-bpe" / f"{key[0]}-v{key[1]}.json"
    tokenizer = None
    if path.is_file():
        try:
            tokenizer = load_tokenizer(path)
        except BitbaselinesError as exc:  # a damaged cache entry: train again
            log.warning("ignoring the cached BPE %s: %s", path, exc)
    if tokenizer is None:
        log.info(
            "training the %d-entry reference BPE on %d train bytes", vocab_size, sum(map(len, docs))
        )
        tokenizer = train_reference_bpe(docs, vocab_size)
        try:
            save_tokenizer(tokenizer, path)
        except OSError as exc:  # a read-only home: keep it in memory only
            log.warning("could not cache the reference BPE at %s: %s", path, exc)
    _MEMORY[key] = tokenizer
    return tokenizer
