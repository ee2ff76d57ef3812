"""The count segmenter (``--signal counts``): its entropy kernel against a NumPy reference, its
statistics on a hand-made text worked out by hand, and the segmentation it gives through the
decoder on a text whose words are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bitbench.errors import BitbenchError
from bitbench.seg_counts import (
    CountConfig,
    CountStats,
    count_scorer,
    grouped_entropy,
    grouped_entropy_reference,
    read_count_lines,
)
from bitbench.seg_decode import DecodeOptions
from bitbench.seg_rules import line_atoms
from bitbench.seg_signals import make_scorer
from bitbench.segment import segment_lines
from bitbench.sighan import score_lines
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 4)), max_size=40))
def test_grouped_entropy_matches_reference(pairs):
    groups = np.array([g for g, _ in pairs], dtype=np.int64)
    neighbours = np.array([n for _, n in pairs], dtype=np.int64)
    got = grouped_entropy(groups, neighbours, 6)
    want = grouped_entropy_reference(groups, neighbours, 6)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], atol=1e-12)


# Three lines, framed by one boundary symbol B each side (order 1):
#   B 甲 乙 丙 B   B 甲 乙 丁 B   B 丁 丙 B      -> 12 symbols
# unigrams: B 6, 甲 2, 乙 2, 丙 2, 丁 2; pairs: 甲乙 2, 乙丙 1, 乙丁 1, 丁丙 1, ...
# after 甲: 乙 twice (entropy 0); after 乙: 丙, 丁 (log 2); before 乙: 甲 twice (0); before 丙:
# 乙, 丁 (log 2)
LINES = ["甲乙丙", "甲乙丁", "丁丙"]


def test_statistics_of_a_hand_made_text():
    stats = CountStats.from_lines(LINES, CountConfig(order=1))
    assert stats.total == 12
    (f,) = stats.features([line_atoms("甲乙丙")])
    # gap 甲|乙: pmi = log(c(甲乙) N / (c(甲) c(乙))) = log(2 * 12 / 4) = log 6; gap 乙|丙: log 3
    np.testing.assert_allclose(f["pmi"], [np.nan, -math.log(6), -math.log(3)])
    np.testing.assert_allclose(f["frequency"], [np.nan, -math.log(2), -math.log(1)])
    np.testing.assert_allclose(f["entropy_right1"], [np.nan, 0.0, math.log(2)])
    np.testing.assert_allclose(f["entropy_left1"], [np.nan, 0.0, math.log(2)])
    # a pair never seen (丙丁) counts as half an occurrence; an unseen symbol has no entropy
    (g,) = stats.features([line_atoms("丙丁戊")])
    assert g["pmi"][1] == pytest.approx(-math.log(0.5 * 12 / (2 * 2)))
    assert np.isnan(g["entropy_left1"][2]) and np.isfinite(g["pmi"][2])


def test_variation_of_branching_entropy():
    stats = CountStats.from_lines(LINES, CountConfig(order=2))
    (f,) = stats.features([line_atoms("甲乙丙")])
    # gap 乙|丙: H_R(甲乙) - H_R(甲): 甲乙 is followed by 丙 and 丁 (log 2), 甲 only by 乙 (0)
    assert f["variation_right"][2] == pytest.approx(math.log(2))
    # H_L(丙 B) - H_L(B): hand-counted in the order-2 frame B B 甲 乙 丙 B B 甲 乙 丁 B B 丁 丙 B B
    #   before "丙 B": 乙, 丁 (log 2); before B: B x4, 丙 x2, 丁 x1 (7 in all)
    h_b = -sum(c / 7 * math.log(c / 7) for c in (4, 2, 1))
    assert f["variation_left"][2] == pytest.approx(math.log(2) - h_b)


def test_scores_are_standardised_weighted_sums():
    stats = CountStats.from_lines(LINES, CountConfig(order=2, pmi=2.0, frequency=0.0))
    atoms = line_atoms("甲乙丙")
    (f,) = stats.features([atoms])
    (s,) = stats.scores([atoms])
    want = np.zeros(3)
    for name, weight in stats.config.weights().items():
        z = (f[name] - stats.centre[name]) / stats.spread[name]
        want += weight * np.nan_to_num(z)
    np.testing.assert_allclose(s, want)
    assert s[0] == 0.0  # no gap before a line's first atom


VOCAB = ["中国", "人民", "发展", "经济", "世界", "和平", "合作", "友好"]


def test_counts_find_the_words_of_a_text_made_of_them():
    rng = np.random.default_rng(0)
    gold = [list(rng.choice(VOCAB, size=int(rng.integers(4, 12)))) for _ in range(300)]
    text = ["".join(words) for words in gold]
    stats = CountStats.from_lines(text)
    options = DecodeOptions(target_unit_bytes=6.0)  # two Han characters of 3 bytes
    seg = segment_lines(None, text, options=options, scorer=count_scorer(stats))
    assert score_lines(gold, seg.lines).f1 > 0.99


def test_count_signal_through_make_scorer_and_its_errors(tmp_path):
    stats = CountStats.from_lines(LINES)
    scorer = make_scorer(None, "counts", counts=stats)
    (scores,) = scorer(["甲乙丙".encode()])
    assert scores.shape == (9,) and scores[1] == scores[2] == 0.0  # inside a character: 0
    with pytest.raises(BitbenchError, match="needs raw text to count"):
        make_scorer(None, "counts")
    with pytest.raises(BitbenchError, match="signal 'head' needs a model"):
        make_scorer(None, "head+counts", counts=stats)
    with pytest.raises(BitbenchError, match="text to count is empty"):
        CountStats.from_lines(["", " "])
    with pytest.raises(BitbenchError, match="count order is 0"):
        CountConfig(order=0)


def test_read_count_lines_from_text_and_store(tmp_path):
    from bitcodec.corpus_writer import CorpusWriter

    (tmp_path / "raw.txt").write_text("甲乙丙\r\n丁丙\n", encoding="utf-8")
    with CorpusWriter(tmp_path / "raw.zarr", val_fraction=0.5) as writer:
        for line in ("甲乙丁", "丙丁甲乙", "乙丙"):
            writer.add(line.encode())
    lines = read_count_lines([tmp_path / "raw.txt", tmp_path / "raw.zarr"])
    assert lines[:2] == ["甲乙丙", "丁丙"]
    assert sorted(lines[2:]) == ["丙丁甲乙", "乙丙", "甲乙丁"]
    with pytest.raises(BitbenchError, match="does not exist"):
        read_count_lines([tmp_path / "missing.txt"])
