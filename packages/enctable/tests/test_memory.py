"""The heavy-hitters sketch stays within capacity however long the stream."""

from __future__ import annotations

import numpy as np
from enctable import AdaptiveEncodingTable
from enctable.sketch import BatchCounts, HeavyHitters


def test_memory_bounded_under_a_long_random_stream() -> None:
    # 6 MB of random-ish bytes (a skewed alphabet so units repeat) in 64 KB batches
    cfg = dict(levels=3, max_size=100, sketch_factor=4, max_pattern_bytes=(4, 16, 32))
    table = AdaptiveEncodingTable(**cfg)
    rng = np.random.default_rng(0)
    alphabet = np.frombuffer(b"etaoin shrdlu\n,.", np.uint8)
    p = np.linspace(2.0, 0.2, alphabet.shape[0])
    p /= p.sum()
    batches = 96
    peak = 0
    for step in range(batches):
        x = alphabet[rng.choice(alphabet.shape[0], size=(64, 1024), p=p)]
        scores = rng.random(x.shape)
        table.update_tables(x, scores, step=step)
        for sk in table.sketches:
            assert len(sk) <= sk.capacity == 400
        assert all(n <= 100 for n in table.level_sizes().values())
        peak = max(peak, sum(sk.nbytes for sk in table.sketches))
    assert table.bytes_seen == batches * 64 * 1024
    # keys + 3 float counters + offsets per entry, plus <= max_pattern_bytes bytes each
    bound = sum(400 * (8 * 5 + n) + 8 for n in (4, 16, 32))
    assert peak <= bound
    sample = alphabet[rng.choice(alphabet.shape[0], size=20000, p=p)].tobytes()
    for k in (1, 2, 3):
        assert table.decode(table.encode(sample, k), k) == sample


def test_misra_gries_keeps_every_heavy_hitter() -> None:
    # keys with more than total / (capacity + 1) of the weight must survive the merges
    rng = np.random.default_rng(1)
    sk = HeavyHitters(capacity=50)
    flat = np.arange(2000, dtype=np.int64).astype(np.uint8)
    total = 0.0
    heavy = [3, 7, 11]
    for _ in range(40):
        ids = np.concatenate([rng.integers(20, 1000, size=500), np.repeat(heavy, 30)])
        starts = ids.astype(np.int64)
        ends = starts + 2
        sk.merge(BatchCounts.from_spans(flat, starts, ends, np.ones(ids.shape[0])))
        total += ids.shape[0]
        assert len(sk) <= 50
    held = {bytes(sk.concat[a:b]) for a, b in zip(sk.offsets[:-1], sk.offsets[1:], strict=True)}
    for h in heavy:
        assert bytes(flat[h : h + 2]) in held
    # and the count underestimates by at most total / (capacity + 1)
    assert sk.counts.max() >= 40 * 30 - total / 51
