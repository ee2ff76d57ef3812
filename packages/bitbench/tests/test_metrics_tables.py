"""Compression, table statistics, consistency AUC and FLOPs on hand-made cases."""

from __future__ import annotations

import gzip
import lzma
import math

import numpy as np
import pytest
from bitbench.compression import (
    code_entropy_bits,
    compressed_bits_per_byte,
    compression_baselines,
    rank_frequency,
    table_level_stats,
)
from bitbench.consistency import average_ranks, consistency_auc, pool_units, rank_sum_auc
from bitbench.errors import BitbenchError
from bitbench.flops import format_flops, per_byte_from_per_token, training_flops


def test_compressed_bits_per_byte_matches_the_compressors():
    data = b"to be or not to be, that is the question. " * 50
    assert compressed_bits_per_byte(data, "gzip") == 8 * len(gzip.compress(data, 9, mtime=0)) / len(
        data
    )
    assert compressed_bits_per_byte(data, "xz") == 8 * len(lzma.compress(data, preset=9)) / len(
        data
    )
    out = compression_baselines(data)
    assert set(out) == {"gzip", "xz", "zstd"}
    assert all(0 < v < 8 for v in out.values())  # repetitive text compresses
    with pytest.raises(BitbenchError, match="unknown compressor"):
        compressed_bits_per_byte(data, "rar")
    with pytest.raises(BitbenchError, match="empty"):
        compressed_bits_per_byte(b"", "gzip")


def test_code_entropy_known_distributions():
    assert code_entropy_bits([5, 5, 5, 5]) == 0.0
    assert code_entropy_bits([0, 1, 2, 3]) == pytest.approx(2.0)
    assert code_entropy_bits([0, 0, 1, 2]) == pytest.approx(1.5)
    assert code_entropy_bits([]) == 0.0
    assert rank_frequency([3, 1, 3, 3, 2, 2]).tolist() == [3, 2, 1]


class _PairTable:
    """Codes = 2-byte chunks (odd tail as one byte); a deliberately lossy variant drops the tail."""

    def __init__(self, lossy: bool = False) -> None:
        self.lossy = lossy

    def encode(self, data: bytes, level: int) -> np.ndarray:
        chunks = [data[i : i + 2] for i in range(0, len(data), 2)]
        return np.array([int.from_bytes(c, "big") + (len(c) << 16) for c in chunks], dtype=np.int64)

    def decode(self, codes: np.ndarray, level: int) -> bytes:
        out = b""
        for code in codes.tolist():
            n = code >> 16
            if self.lossy and n == 1:
                continue
            out += (code & 0xFFFF).to_bytes(n, "big")
        return out


def test_table_level_stats_counts_and_roundtrip():
    stats, codes = table_level_stats(_PairTable(), [b"abab", b"abc"], level=1, vocab_size=10)
    assert stats.num_bytes == 7 and stats.num_codes == 4 == len(codes)  # ab ab | ab c
    assert stats.bytes_per_code == pytest.approx(7 / 4)
    # codes: ab x3, c x1 -> H = -(.75 log .75 + .25 log .25)
    h = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert stats.code_entropy_bits == pytest.approx(h)
    assert stats.entropy_bits_per_byte == pytest.approx(h / (7 / 4))
    assert stats.roundtrip_exact and stats.distinct_codes == 2
    lossy, _ = table_level_stats(_PairTable(lossy=True), [b"abab", b"abc"], level=1, vocab_size=10)
    assert not lossy.roundtrip_exact


def test_average_ranks_and_auc():
    assert average_ranks(np.array([10, 20, 20, 5])).tolist() == [2.0, 3.5, 3.5, 1.0]
    assert rank_sum_auc([3, 4], [1, 2]) == 1.0
    assert rank_sum_auc([1, 2], [3, 4]) == 0.0
    assert rank_sum_auc([1], [1]) == 0.5
    # pos {2, 4}, neg {1, 3}: pairs won 2>1, 4>1, 4>3 -> 3 of 4
    assert rank_sum_auc([2, 4], [1, 3]) == pytest.approx(0.75)
    with pytest.raises(BitbenchError, match="positive and one negative"):
        rank_sum_auc([], [1])


def test_pool_units_means():
    hidden = np.arange(12, dtype=float).reshape(6, 2)
    pooled = pool_units(hidden, [(0, 2), (2, 6)])
    np.testing.assert_allclose(pooled, [[1, 2], [7, 8]])


def test_consistency_auc_perfect_and_inverted():
    # Two units, vectors of the same unit point the same way: every same pair beats every different.
    vecs = np.array([[1, 0], [2, 0.1], [0, 1], [0.1, 3]], dtype=float)
    assert consistency_auc(vecs, ["a", "a", "b", "b"]) == 1.0
    # Same-unit occurrences point opposite ways (cos -1), different units are orthogonal: AUC 0.
    vecs = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]], dtype=float)
    assert consistency_auc(vecs, ["a", "a", "b", "b"]) == 0.0
    # A singleton label takes no part.
    vecs = np.array([[1, 0], [2, 0.1], [0, 1], [0.1, 3], [5, 5]], dtype=float)
    assert consistency_auc(vecs, [b"a", b"a", b"b", b"b", b"c"]) == 1.0


def test_flops_arithmetic():
    assert training_flops(10, 4, 128, 1000.0) == 10 * 4 * 128 * 3 * 1000.0
    assert per_byte_from_per_token(400.0, 4.0) == 100.0
    assert format_flops(2.5e15) == "2.5 PFLOP"
    with pytest.raises(BitbenchError, match="steps"):
        training_flops(-1, 1, 1, 1.0)


def test_consistency_auc_centres_a_shared_offset():
    rng = np.random.default_rng(0)
    labels = [i % 5 for i in range(60)]
    signal = rng.normal(size=(5, 8))[labels] * 0.1 + rng.normal(size=(60, 8)) * 0.1
    shifted = signal + 50.0  # one direction every vector shares: all cosines near 1
    centred = consistency_auc(shifted, labels)
    assert centred == pytest.approx(consistency_auc(signal, labels))  # the offset is removed
    assert consistency_auc(shifted, labels, centre=False) != pytest.approx(centred)
