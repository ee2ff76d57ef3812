"""Encoding-table statistics per level against a byte-level BPE of the same vocabulary size.

The table is the run's own (``RUN/table``) when it has one; otherwise one is grown here from the
model's boundary scores over *train* windows (never the evaluation text, so the statistics are
out of sample, like the BPE which is also trained on the train split). Each level's vocabulary
size is ``table.vocab_size(level)`` (256 byte codes + the patterns of levels 1..level); the BPE
is the corpus's reference BPE (bitbaselines.bpe, the same one the bpe baseline and the
evaluation protocols use) with exactly that many byte symbols and merges (+ its 2 specials).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bitbaselines.bpe import MIN_VOCAB, NUM_SPECIAL
from bittrain.engine.contracts import HasAttentionBoundaries
from enctable import AdaptiveEncodingTable

from bitbench.compression import bpe_stats, table_level_stats

log = logging.getLogger(__name__)


def load_table(table_dir: Path) -> Any:
    return AdaptiveEncodingTable.load(table_dir)


def feed_table(
    table: Any,
    model: Any,
    windows: np.ndarray,
    doc_starts: np.ndarray | None,
    *,
    step: int,
    attention: bool = True,
) -> None:
    """One batch of unmasked windows uint8 [B, L] through the model's boundary scores (and its
    last byte stage's attention maps, when asked and the model gives them) into ``table``."""
    part = np.ascontiguousarray(windows)
    if attention and isinstance(model, HasAttentionBoundaries):
        scores, maps = model.boundary_with_attention(part, doc_starts=doc_starts)
        if maps.ndim != 4 or maps.shape[2] != part.shape[1]:
            maps = None  # not a byte-level banded map
    else:
        scores, maps = model.boundary_scores(part, doc_starts=doc_starts), None
    table.update_tables(part, np.asarray(scores, dtype=np.float64), maps, step=step)


def grow_table(
    model: Any,
    windows: np.ndarray,
    doc_starts: np.ndarray | None,
    *,
    max_size: int = 10000,
    batch: int = 32,
    tick: Callable[[], None] | None = None,
) -> Any:
    """A fresh AdaptiveEncodingTable fed with the model's boundary scores (and its last stage's
    attention maps, when the model gives them) over ``windows``."""
    table = AdaptiveEncodingTable(
        levels=4,
        max_size=max_size,
        target_unit_bytes=float(model.target_unit_bytes),
    )
    for step, start in enumerate(range(0, windows.shape[0], batch), start=1):
        starts = None if doc_starts is None else doc_starts[start : start + batch]
        feed_table(table, model, windows[start : start + batch], starts, step=step)
        if tick is not None:
            tick()
    return table


def table_report(
    table: Any,
    texts: list[bytes],
    *,
    bpe_for: Callable[[int], Any] | None,
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Per level: the table's stats and, when ``bpe_for`` is given (entries -> tokenizer, e.g.
    ``lambda v: reference_bpe(corpus.train, v)``), the reference BPE's of the same size.

    Returns (rows for metrics.json, code arrays for the rank-frequency plot keyed by label).
    """
    rows: list[dict[str, Any]] = []
    codes_by_label: dict[str, np.ndarray] = {}
    bpe_cache: dict[int, Any] = {}
    for level in range(1, int(table.levels) + 1):
        vocab = int(table.vocab_size(level))
        stats, codes = table_level_stats(table, texts, level, vocab)
        row: dict[str, Any] = {"level": level, "table": stats.as_dict(), "bpe": None}
        codes_by_label[f"table L{level}"] = codes
        if bpe_for is not None and vocab + NUM_SPECIAL >= MIN_VOCAB:
            if vocab not in bpe_cache:
                bpe_cache[vocab] = bpe_for(vocab + NUM_SPECIAL)
            bstats, bcodes = bpe_stats(bpe_cache[vocab], texts, level)
            row["bpe"] = bstats.as_dict()
            row["bytes_per_code_vs_bpe"] = stats.bytes_per_code / bstats.bytes_per_code
            codes_by_label.setdefault(f"BPE {vocab}", bcodes)
        rows.append(row)
    return rows, codes_by_label
