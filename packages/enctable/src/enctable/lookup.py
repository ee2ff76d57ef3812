"""What encode/decode need for one level: the union of the patterns of levels 1..k."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from enctable import patterns
from enctable.hashing import make_prefix_index
from enctable.level_table import LevelTable


@dataclass(frozen=True)
class LevelLookup:
    keys: np.ndarray  # prefix index (hashing.make_prefix_index)
    vals: np.ndarray
    concat: np.ndarray  # patterns of levels 1..k
    offsets: np.ndarray
    codes: np.ndarray  # int64[n] code of each pattern
    costs: np.ndarray  # float64[n] DP cost of each pattern
    byte_cost: float
    max_len: int
    code_offset: np.ndarray  # int64[code_space]: where code c's bytes start in concat
    code_len: np.ndarray  # int64[code_space]: 0 = not a code at this level


def build_lookup(tables: list[LevelTable], code_space: int, cost: str) -> LevelLookup:
    """Lookup over `tables` (levels 1..k). cost "codes": every code costs 1, so the DP finds
    the fewest codes; "bits": -log2 of the pattern's add-one-smoothed share of all counts (bytes
    get pseudo-count 1), a unigram-model Viterbi."""
    concat, offsets = patterns.empty()
    codes_parts, freq_parts = [], []
    for t in tables:
        concat, offsets = patterns.join((concat, offsets), (t.concat, t.offsets))
        codes_parts.append(t.codes)
        freq_parts.append(t.frequency)
    codes = np.concatenate(codes_parts) if codes_parts else np.zeros(0, np.int64)
    freq = np.concatenate(freq_parts) if freq_parts else np.zeros(0)
    if cost == "bits":
        total = float(freq.sum()) + freq.shape[0] + 256.0
        costs = -np.log2((freq + 1.0) / total)
        byte_cost = -math.log2(1.0 / total)
    else:
        costs = np.ones(codes.shape[0])
        byte_cost = 1.0
    keys, vals = make_prefix_index(concat, offsets)
    lens = patterns.lengths(offsets)
    code_offset = np.zeros(code_space, np.int64)
    code_len = np.zeros(code_space, np.int64)
    code_offset[codes] = offsets[:-1]
    code_len[codes] = lens
    return LevelLookup(
        keys=keys,
        vals=vals,
        concat=concat,
        offsets=offsets,
        codes=codes.astype(np.int64),
        costs=costs.astype(np.float64),
        byte_cost=float(byte_cost),
        max_len=int(lens.max()) if lens.shape[0] else 1,
        code_offset=code_offset,
        code_len=code_len,
    )
