"""One level's table: the patterns that hold codes, with frequency and confidence.

Codes are stable: a pattern keeps its code for as long as it stays in the table, and codes
freed by patterns that dropped out go to newcomers (lowest free code first), so a model that
embeds codes sees the same id for the same bytes while the table adapts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from enctable import patterns
from enctable.sketch import HeavyHitters


@dataclass
class LevelTable:
    level: int
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))  # sorted by code
    codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    frequency: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    concat: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def pattern(self, i: int) -> bytes:
        return patterns.to_bytes(self.concat, self.offsets, i)


def rebuild_level(
    old: LevelTable,
    sketch: HeavyHitters,
    taken_keys: np.ndarray,
    code_block: tuple[int, int],
    max_size: int,
    min_count: float,
) -> LevelTable:
    """The level's new table from its sketch.

    Candidates: sketch entries of >= 2 bytes with count >= min_count whose bytes no lower level
    holds (taken_keys). Ranked by count * (bytes - 1), the codes one saves by having the
    pattern (ties by key, so the order is deterministic); the best max_size keep or get codes.
    """
    lens = patterns.lengths(sketch.offsets)
    ok = (lens >= 2) & (sketch.counts >= min_count) & ~np.isin(sketch.keys, taken_keys)
    cand = np.flatnonzero(ok)
    saving = sketch.counts[cand] * (lens[cand] - 1)
    order = np.lexsort((sketch.keys[cand], -saving))
    chosen = cand[order[:max_size]]  # sketch indices, best first
    chosen_keys = sketch.keys[chosen]

    pos = np.searchsorted(np.sort(old.keys), chosen_keys) if len(old) else None
    old_code = np.full(chosen.shape[0], -1, np.int64)
    if pos is not None:
        sorter = np.argsort(old.keys, kind="stable")
        sorted_keys = old.keys[sorter]
        hit = pos < sorted_keys.shape[0]
        hit[hit] = sorted_keys[pos[hit]] == chosen_keys[hit]
        old_code[hit] = old.codes[sorter[pos[hit]]]
    first, end = code_block
    used = np.zeros(end - first, bool)
    used[old_code[old_code >= 0] - first] = True
    free = np.flatnonzero(~used) + first
    newcomers = np.flatnonzero(old_code < 0)
    old_code[newcomers] = free[: newcomers.shape[0]]

    by_code = np.argsort(old_code, kind="stable")
    idx = chosen[by_code]
    concat, offsets = patterns.subset(sketch.concat, sketch.offsets, idx)
    return LevelTable(
        level=old.level,
        keys=sketch.keys[idx].copy(),
        codes=old_code[by_code],
        frequency=sketch.counts[idx].copy(),
        confidence=sketch.confidence()[idx],
        concat=concat,
        offsets=offsets,
    )
