"""Fed gold word boundaries, level 2 recovers the corpus's frequent words."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from enctable import AdaptiveEncodingTable
from enctable.priors import segmented_starts, text_batches, whitespace_starts
from enctable_testdata import generated_english


def grow(data: bytes, starts: np.ndarray, max_size: int) -> AdaptiveEncodingTable:
    table = AdaptiveEncodingTable(levels=3, max_size=max_size, boundary_threshold=0.5)
    for x, s in text_batches(data, starts, 1024, 64):
        table.update_tables(x, s)
    return table


def recovered_share(table: AdaptiveEncodingTable, words: list[bytes], suffix: bytes) -> float:
    """Share of words that level 2 spells as one code (with the unit's trailing suffix)."""
    hits = [table.encode(w + suffix, 2).shape[0] == 1 for w in words]
    return float(np.mean(hits))


def check_english(text: bytes) -> None:
    table = grow(text, whitespace_starts(np.frombuffer(text, np.uint8)), 8000)
    top = [w for w, _ in Counter(text.split()).most_common(100)]
    assert recovered_share(table, top, b" ") >= 0.9
    # those units are cut consistently by the gold boundaries: high confidence
    conf = {p["pattern"]: p["confidence"] for p in table.top_patterns(2, 8000)}
    assert np.mean([conf.get(w + b" ", 0.0) for w in top[:20]]) > 0.5
    sample = text[-50000:]
    assert table.decode(table.encode(sample, 2), 2) == sample
    assert table.decode(table.encode(sample, 3), 3) == sample


def test_level2_recovers_frequent_words_generated_english() -> None:
    check_english(generated_english(60000, seed=11))


def test_level2_recovers_frequent_words_tiny_shakespeare(shared_data: Path) -> None:
    check_english((shared_data / "english_tinyshakespeare" / "input.txt").read_bytes())


def test_level2_recovers_frequent_words_pku_chinese(shared_data: Path) -> None:
    path = shared_data / "cws_sighan2005_pku" / "pku_training_first1000lines.utf8"
    lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    data, starts = segmented_starts(lines)
    table = grow(data, starts, 8000)
    counts = Counter(w for line in lines for w in line)
    top = [w.encode() for w, _ in counts.most_common(100)]
    # single-character words are level-1 codes, longer words level-2 codes; both one code
    assert recovered_share(table, top, b"") >= 0.9
    multi = [w for w in top if len(w.decode()) > 1]
    own2 = {p["pattern"] for p in table.top_patterns(2, 8000)}
    assert np.mean([w in own2 for w in multi]) >= 0.9
    sample = data[-30000:]
    assert table.decode(table.encode(sample, 2), 2) == sample
