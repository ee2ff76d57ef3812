"""`AdaptiveEncodingTable`: grow per-level pattern tables from a model's unit boundaries,
encode bytes to codes by the best segmentation, decode codes back to the exact bytes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from enctable.byte_input import BytesLike, as_uint8
from enctable.config import FIRST_PATTERN_CODE, TableConfig
from enctable.errors import EnctableError
from enctable.hashing import make_prefix_index
from enctable.level_table import LevelTable, rebuild_level
from enctable.lookup import LevelLookup, build_lookup
from enctable.matching import count_occurrences
from enctable.monitor import table_stats
from enctable.sketch import BatchCounts, HeavyHitters
from enctable.spans import char_spans, piece_spans, run_spans, select_starts, unit_spans
from enctable.storage import load_table, save_table
from enctable.viterbi import decode_codes, viterbi_encode

logger = logging.getLogger(__name__)


class AdaptiveEncodingTable:
    """Multi-level encoding table (seed section 4). See the package README for the model."""

    def __init__(
        self,
        levels: int = 4,
        max_size: int = 10000,
        *,
        config: TableConfig | None = None,
        **options: Any,
    ) -> None:
        if config is None:
            config = TableConfig(levels=levels, max_size=max_size, **options)
        elif options:
            raise EnctableError("pass either config=TableConfig(...) or keyword options, not both")
        self.config = config
        cap = config.sketch_capacity
        self.sketches = [HeavyHitters(cap) for _ in range(config.levels)]
        self.tables = [LevelTable(level=k + 1) for k in range(config.levels)]
        self.step: int = 0  # step of the last update
        self.updates: int = 0
        self.bytes_seen: int = 0
        self.recent = np.zeros(0, np.uint8)
        self._lookups: dict[int, LevelLookup] = {}

    # ------------------------------------------------------------------ public facts
    @property
    def levels(self) -> int:
        return self.config.levels

    def level_sizes(self) -> dict[int, int]:
        """Patterns each level holds itself (its block of codes)."""
        return {t.level: len(t) for t in self.tables}

    def vocab_size(self, level: int) -> int:
        """Codes a level-`level` encoding can use: 256 bytes + patterns of levels 1..level."""
        self._check_level(level)
        return FIRST_PATTERN_CODE + sum(len(t) for t in self.tables[:level])

    def code_space(self, level: int) -> int:
        """Upper bound (exclusive) of the code ids at `level` (embedding table size)."""
        self._check_level(level)
        return self.config.code_space(level)

    def top_patterns(self, level: int, k: int = 20) -> list[dict[str, Any]]:
        """The level's own patterns by frequency: code, bytes, frequency, confidence."""
        self._check_level(level)
        t = self.tables[level - 1]
        order = np.lexsort((t.codes, -t.frequency))[:k]
        return [
            {
                "code": int(t.codes[i]),
                "pattern": t.pattern(int(i)),
                "frequency": float(t.frequency[i]),
                "confidence": float(t.confidence[i]),
            }
            for i in order
        ]

    # ------------------------------------------------------------------ growing
    def update_tables(
        self,
        byte_batch: np.ndarray,
        boundary_scores: np.ndarray,
        attention_maps: np.ndarray | None = None,
        step: int | None = None,
    ) -> None:
        """Feed one batch: bytes uint8[B, L] and per-byte unit-start scores float[B, L].

        attention_maps: optional [B, L, L] / [B, H, L, L] byte-level maps (spans.select_starts
        says how they refine the cuts). step: the training step; counts decay by
        0.5 ** ((step - previous step) / half_life_steps). None = previous step + 1.
        """
        data = np.asarray(byte_batch)
        scores = np.asarray(boundary_scores, dtype=np.float64)
        if data.ndim != 2 or data.dtype != np.uint8:
            raise EnctableError(
                f"byte_batch has dtype {data.dtype} and shape {data.shape}: pass uint8 [B, L]"
            )
        if scores.shape != data.shape:
            raise EnctableError(
                f"boundary_scores has shape {scores.shape}, byte_batch {data.shape}: "
                "pass one score per byte"
            )
        if data.size == 0:
            return
        if np.isnan(scores).any():
            raise EnctableError("boundary_scores contain NaN: check the model's boundary head")
        step = self.step + 1 if step is None else int(step)
        elapsed = max(0, step - self.step) if self.updates else 0
        factor = 0.5 ** (elapsed / self.config.half_life_steps)

        starts = select_starts(data, scores, self.config, attention_maps)
        flat = np.ascontiguousarray(data.reshape(-1))  # [B * L]
        starts_flat = np.ascontiguousarray(starts.reshape(-1))
        row_len = data.shape[1]
        for k, (s, e, w) in enumerate(self._candidates(flat, starts_flat, row_len), start=1):
            sketch = self.sketches[k - 1]
            sketch.decay(factor)
            sketch.merge(BatchCounts.from_spans(flat, s, e, w))
            self._count_cuts(k, flat, starts_flat, row_len)

        self.step = step
        self.updates += 1
        self.bytes_seen += int(flat.shape[0])
        keep = self.config.recent_bytes
        self.recent = np.concatenate([self.recent, flat])[-keep:] if keep else self.recent[:0]
        self._rebuild()

    def _candidates(
        self, flat: np.ndarray, starts: np.ndarray, row_len: int
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(span starts, span ends, weights) of each level's candidates in this batch."""
        cfg = self.config
        n = flat.shape[0]
        out = []
        s = np.empty(n, np.int64)
        e = np.empty(n, np.int64)
        m = char_spans(flat, row_len, s, e)
        cs, ce = s[:m].copy(), e[:m].copy()
        level1 = [(cs, ce, np.ones(m))]
        if cfg.piece_weight > 0:
            # lead-byte prefixes shared by many characters of a script: an unseen character
            # then costs 2 codes instead of 3 or 4
            for cut in (2, 3):
                long = cs[ce - cs > cut]
                level1.append((long, long + cut, np.full(long.shape[0], cfg.piece_weight)))
        out.append(tuple(np.concatenate(parts) for parts in zip(*level1, strict=True)))
        if cfg.levels == 1:
            return out
        m = unit_spans(starts, row_len, cfg.trim_row_edges, s, e)
        us, ue = s[:m].copy(), e[:m].copy()
        lens = ue - us
        ok = (lens >= 2) & (lens <= cfg.max_pattern_bytes[1])
        level2 = [(us[ok], ue[ok], np.ones(int(ok.sum())))]
        if cfg.piece_weight > 0:
            size = 2 * int(lens.sum())
            ps, pe = np.empty(size, np.int64), np.empty(size, np.int64)
            mp = piece_spans(flat, us, ue, cfg.max_pattern_bytes[1], ps, pe)
            level2.append((ps[:mp], pe[:mp], np.full(mp, cfg.piece_weight)))
        out.append(tuple(np.concatenate(parts) for parts in zip(*level2, strict=True)))
        for k in range(3, cfg.levels + 1):
            lo, hi = cfg.run_units[k - 3]
            rs, re_ = run_spans(us, ue, row_len, lo, hi)
            ok = (re_ - rs) <= cfg.max_pattern_bytes[k - 1]
            out.append((rs[ok], re_[ok], np.ones(int(ok.sum()))))
        return out

    def _count_cuts(self, level: int, flat: np.ndarray, starts: np.ndarray, row_len: int) -> None:
        """Add this batch's occurrences / exact cuts of the level's sketch patterns."""
        sk = self.sketches[level - 1]
        if len(sk) == 0:
            return
        if level == 1:
            cut = (flat & 0xC0) != 0x80  # character starts
            trim, lo, hi = False, 1, 1
        else:
            cut, trim = starts, self.config.trim_row_edges
            lo, hi = (1, 1) if level == 2 else self.config.run_units[level - 3]
        keys, vals = make_prefix_index(sk.concat, sk.offsets)
        count_occurrences(
            flat,
            row_len,
            cut,
            trim,
            lo,
            hi,
            keys,
            vals,
            sk.concat,
            sk.offsets,
            self.config.max_pattern_bytes[level - 1],
            sk.seen,
            sk.exact,
        )

    def _rebuild(self) -> None:
        taken = np.zeros(0, np.uint64)
        for k in range(1, self.levels + 1):
            new = rebuild_level(
                self.tables[k - 1],
                self.sketches[k - 1],
                taken,
                self.config.code_block(k),
                self.config.max_size,
                self.config.min_count,
            )
            self.tables[k - 1] = new
            taken = np.concatenate([taken, new.keys])
        self._lookups.clear()

    # ------------------------------------------------------------------ coding
    def _check_level(self, level: int) -> None:
        if not isinstance(level, (int, np.integer)) or not 1 <= level <= self.levels:
            raise EnctableError(
                f"level {level!r} does not exist: this table has levels 1..{self.levels}"
            )

    def lookup(self, level: int) -> LevelLookup:
        self._check_level(level)
        if level not in self._lookups:
            self._lookups[level] = build_lookup(
                self.tables[:level], self.config.code_space(level), self.config.cost
            )
        return self._lookups[level]

    def encode(self, data: BytesLike, level: int) -> np.ndarray:
        """int64 codes of data's best segmentation at `level` (fewest codes, or fewest bits)."""
        arr = as_uint8(data)
        lk = self.lookup(level)
        out = np.empty(arr.shape[0], np.int64)
        m = viterbi_encode(
            arr,
            lk.keys,
            lk.vals,
            lk.concat,
            lk.offsets,
            lk.codes,
            lk.costs,
            lk.byte_cost,
            lk.max_len,
            out,
        )
        return out[:m].copy()

    def decode(self, codes: Any, level: int) -> bytes:
        """The exact bytes the codes stand for at `level`."""
        lk = self.lookup(level)
        arr = np.asarray(codes)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise EnctableError(
                f"codes have dtype {arr.dtype} and shape {arr.shape}: pass a 1-D sequence of ints"
            )
        out, bad = decode_codes(arr.astype(np.int64), lk.code_offset, lk.code_len, lk.concat)
        if bad >= 0:
            raise EnctableError(
                f"code {int(arr[bad])} (position {bad}) is not a code of level {level} of this "
                f"table (bytes 0..255 and {self.vocab_size(level) - 256} pattern codes): decode "
                "with the table and level that encoded it"
            )
        return out.tobytes()

    def pieces(self, codes: Any, level: int) -> list[bytes]:
        """The bytes of each code separately (a segmentation to show)."""
        lk = self.lookup(level)
        self.decode(codes, level)  # validates
        out = []
        for c in np.asarray(codes, dtype=np.int64):
            if c < 256:
                out.append(bytes([int(c)]))
            else:
                a = lk.code_offset[c]
                out.append(lk.concat[a : a + lk.code_len[c]].tobytes())
        return out

    # ------------------------------------------------------------------ monitoring / storage
    def stats(self, sample: BytesLike | None = None, top_k: int = 10) -> dict[str, Any]:
        """Section 4.3 monitoring (see enctable.monitor.table_stats)."""
        return table_stats(self, sample, top_k)

    def save(self, directory: str | Path) -> None:
        save_table(self, Path(directory))

    @classmethod
    def load(cls, directory: str | Path) -> AdaptiveEncodingTable:
        return load_table(Path(directory), cls)

    def __repr__(self) -> str:
        sizes = ", ".join(f"L{k}={n}" for k, n in self.level_sizes().items())
        return f"AdaptiveEncodingTable({sizes}, updates={self.updates}, step={self.step})"
