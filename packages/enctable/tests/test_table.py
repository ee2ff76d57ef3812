"""AdaptiveEncodingTable: lossless round trips, determinism, codes, decay, errors."""

from __future__ import annotations

import numpy as np
import pytest
from enctable import AdaptiveEncodingTable, EnctableError, TableConfig
from enctable.priors import text_batches, whitespace_starts
from enctable_testdata import generated_english
from hypothesis import given, settings
from hypothesis import strategies as st


def trained_table(text: bytes, **options) -> AdaptiveEncodingTable:
    options.setdefault("max_size", 500)
    options.setdefault("boundary_threshold", 0.5)
    table = AdaptiveEncodingTable(levels=4, **options)
    starts = whitespace_starts(np.frombuffer(text, np.uint8))
    for x, s in text_batches(text, starts, 256, 32):
        table.update_tables(x, s)
    return table


MIXED = generated_english(8000, seed=1) + "中文的词语和句子，中文的词语。Ünïcödé ñ\n".encode() * 40
TABLE = trained_table(MIXED)


def test_table_grows_every_level() -> None:
    sizes = TABLE.level_sizes()
    assert sizes[1] > 0 and sizes[2] > 100 and sizes[3] > 10
    assert TABLE.levels == 4
    assert TABLE.vocab_size(2) == 256 + sizes[1] + sizes[2]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 4))
def test_round_trip_exact_for_arbitrary_bytes(data: bytes, level: int) -> None:
    codes = TABLE.encode(data, level)
    assert codes.dtype == np.int64
    assert TABLE.decode(codes, level) == data


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="kalomineruts 中文的词语，\n", max_size=200), st.integers(1, 4))
def test_round_trip_exact_for_text_like_input(text: str, level: int) -> None:
    data = text.encode()
    assert TABLE.decode(TABLE.encode(data, level), level) == data


def test_encode_compresses_and_higher_levels_use_fewer_codes() -> None:
    sample = MIXED[-20000:]
    n = [len(TABLE.encode(sample, k)) for k in (1, 2, 3)]
    assert n[1] < len(sample) / 3  # whole words
    assert n[2] <= n[1] <= n[0]


def test_level_codes_are_nested_and_in_their_blocks() -> None:
    cfg = TABLE.config
    for k, t in enumerate(TABLE.tables, start=1):
        first, end = cfg.code_block(k)
        assert np.all((t.codes >= first) & (t.codes < end))
        assert len(np.unique(t.codes)) == len(t)
    codes2 = TABLE.encode(MIXED[:3000], 2)
    assert codes2.max() < cfg.code_space(2)
    with pytest.raises(EnctableError, match=r"code \d+ .* level 1"):
        TABLE.decode(codes2[codes2 >= cfg.code_block(2)[0]][:1], 1)


def test_dp_beats_greedy_longest_match() -> None:
    # table holds "abc", "ab", "cdef": greedy longest match spells "abcdef" as abc|d|e|f,
    # the DP as ab|cdef
    table = AdaptiveEncodingTable(levels=2, max_size=50, boundary_threshold=0.5, piece_weight=0.0)
    x = np.frombuffer(b"abc" * 40 + b"abcdef" * 20, np.uint8).reshape(2, 120)
    s = np.zeros(x.shape)
    s[0, ::3] = 1.0  # units "abc"
    s[1, ::6] = 1.0
    s[1, 2::6] = 1.0  # units "ab", "cdef"
    table.update_tables(x, s)
    assert {b"abc", b"ab", b"cdef"} <= {p["pattern"] for p in table.top_patterns(2)}
    codes = table.encode(b"abcdef", 2)
    assert table.pieces(codes, 2) == [b"ab", b"cdef"]


def test_deterministic_builds() -> None:
    a = trained_table(MIXED[:40000])
    b = trained_table(MIXED[:40000])
    for ta, tb in zip(a.tables, b.tables, strict=True):
        for name in ("keys", "codes", "frequency", "confidence", "concat", "offsets"):
            np.testing.assert_array_equal(getattr(ta, name), getattr(tb, name))
    sample = MIXED[-5000:]
    np.testing.assert_array_equal(a.encode(sample, 3), b.encode(sample, 3))


def test_codes_are_stable_while_patterns_stay() -> None:
    text = generated_english(20000, seed=3)
    table = AdaptiveEncodingTable(levels=2, max_size=300, boundary_threshold=0.5)
    batches = list(text_batches(text, whitespace_starts(np.frombuffer(text, np.uint8)), 256, 16))
    table.update_tables(*batches[0])
    kept = 0
    for x, s in batches[1:]:
        before = {p["pattern"]: p["code"] for p in table.top_patterns(2, 300)}
        table.update_tables(x, s)
        after = {p["pattern"]: p["code"] for p in table.top_patterns(2, 300)}
        common = before.keys() & after.keys()
        assert all(before[p] == after[p] for p in common)
        kept += len(common)
    assert kept > 50 * (len(batches) - 1)


def test_decay_lets_the_table_follow_new_boundaries() -> None:
    table = AdaptiveEncodingTable(
        levels=2, max_size=20, half_life_steps=2.0, boundary_threshold=0.5, piece_weight=0.0
    )
    x = np.frombuffer(b"abcdef" * 64, np.uint8).reshape(4, 96)
    old = np.zeros(x.shape)
    old[:, ::3] = 1.0  # units "abc", "def"
    new = np.zeros(x.shape)
    new[:, ::2] = 1.0  # units "ab", "cd", "ef"
    for step in range(1, 4):
        table.update_tables(x, old, step=step)
    assert table.encode(b"abcdef", 2).shape[0] == 2
    conf_old = {p["pattern"]: p["confidence"] for p in table.top_patterns(2)}
    assert conf_old[b"abc"] == pytest.approx(1.0)
    for step in range(10, 60, 10):
        table.update_tables(x, new, step=step)
    pats = {p["pattern"] for p in table.top_patterns(2)}
    assert {b"ab", b"cd", b"ef"} <= pats and b"abc" not in pats
    assert table.encode(b"abcdef", 2).shape[0] == 3


def test_top_k_mode_pins_the_mean_unit_length() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(97, 100, size=(8, 240), dtype=np.uint8)
    scores = rng.normal(size=x.shape)
    from enctable.spans import select_starts

    starts = select_starts(x, scores, TableConfig(target_unit_bytes=6.0))
    assert np.all(starts.sum(axis=1) == 40)


def test_attention_maps_refine_the_cuts() -> None:
    from enctable.spans import select_starts

    x = np.full((1, 12), 97, np.uint8)
    scores = np.zeros((1, 12))
    att = np.full((1, 12, 12), 1.0 / 12)
    att[0, 6, :] = 0.0
    att[0, 6, 6:] = 1.0 / 6  # byte 6 looks away from what precedes it
    starts = select_starts(x, scores, TableConfig(target_unit_bytes=12.0), att)
    assert starts[0].tolist() == [j == 6 for j in range(12)]
    with pytest.raises(EnctableError, match="attention_maps"):
        select_starts(x, scores, TableConfig(), np.zeros((1, 12)))


def test_continuation_bytes_never_start_units() -> None:
    from enctable.spans import select_starts

    x = np.frombuffer("中文中文".encode(), np.uint8)[None]
    starts = select_starts(x, np.ones(x.shape), TableConfig(boundary_threshold=0.5))
    assert starts[0].tolist() == [True, False, False] * 4


def test_bad_inputs_raise_enctable_error() -> None:
    t = AdaptiveEncodingTable(levels=2, max_size=10)
    with pytest.raises(EnctableError, match="uint8"):
        t.update_tables(np.zeros((2, 4), np.int32), np.zeros((2, 4)))
    with pytest.raises(EnctableError, match="one score per byte"):
        t.update_tables(np.zeros((2, 4), np.uint8), np.zeros((2, 5)))
    with pytest.raises(EnctableError, match="NaN"):
        t.update_tables(np.zeros((1, 4), np.uint8), np.full((1, 4), np.nan))
    with pytest.raises(EnctableError, match="level 3 does not exist"):
        t.encode(b"x", 3)
    with pytest.raises(EnctableError, match="pass bytes"):
        t.encode("text", 1)
    with pytest.raises(EnctableError, match="code 300"):
        t.decode([97, 300], 2)
    with pytest.raises(EnctableError, match="run_units"):
        TableConfig(levels=5)
    with pytest.raises(EnctableError, match="keyword options, not both"):
        AdaptiveEncodingTable(config=TableConfig(), max_pattern_bytes=(4, 4, 4, 4))


def test_empty_table_still_round_trips() -> None:
    t = AdaptiveEncodingTable(levels=3, max_size=10)
    data = bytes(range(256))
    for k in (1, 2, 3):
        codes = t.encode(data, k)
        assert codes.tolist() == list(range(256))
        assert t.decode(codes, k) == data
    assert t.decode([], 2) == b""


def test_stats_report_section_4_3_monitoring() -> None:
    st_ = TABLE.stats(sample=MIXED[-8000:])
    lv2 = st_["levels"][1]
    assert st_["sample_source"] == "sample"
    for key in (
        "size",
        "bytes_per_code",
        "code_entropy_bits",
        "coverage",
        "top_k_share",
        "table_entropy_bits",
        "rank_frequency",
        "mean_confidence",
        "decode_fidelity",
    ):
        assert key in lv2
    assert lv2["decode_fidelity"] == 1.0 and lv2["roundtrip_exact"] is True
    assert lv2["bytes_per_code"] > 3.0
    assert 0.5 < lv2["coverage"] <= 1.0
    assert 0 < lv2["top_k_share"] < 1
    ranks = [r for r, _ in lv2["rank_frequency"]]
    freqs = [f for _, f in lv2["rank_frequency"]]
    assert ranks == sorted(ranks) and freqs == sorted(freqs, reverse=True)
    recent = TABLE.stats()
    assert recent["sample_source"] == "recent" and recent["sample_bytes"] > 0


def test_banded_attention_maps_match_dense() -> None:
    from enctable.spans import attention_cohesion

    rng = np.random.default_rng(0)
    length, w = 10, 3  # banded width K = 2W - 1 = 5
    dense = np.zeros((2, length, length))
    banded = np.zeros((2, length, 2 * w - 1))
    for j in range(length):
        for o in range(2 * w - 1):
            k = j + o - (w - 1)
            if 0 <= k < length:
                dense[:, j, k] = banded[:, j, o] = rng.random(2)
    np.testing.assert_allclose(attention_cohesion(dense, 2), attention_cohesion(banded, 2))
    with pytest.raises(EnctableError, match="odd K"):
        attention_cohesion(np.zeros((1, 10, 4)), 2)
