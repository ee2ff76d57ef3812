"""Decoders on hand-made scores: the Viterbi DP against an exhaustive reference, length bounds,
forced starts, peaks, the length prior and the calibration to a target length."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from bitbench.errors import BitbenchError
from bitbench.seg_decode import (
    DecodeOptions,
    decode_lines,
    decode_starts,
    length_log_prior,
    mean_word_bytes,
    peak_starts,
    viterbi_reference,
    viterbi_starts,
)
from hypothesis import given, settings
from hypothesis import strategies as st


def objective(starts, gap, forced, log_prior):
    cuts = [k for k in range(len(gap)) if starts[k]] + [len(gap)]
    lengths = [b - a for a, b in itertools.pairwise(cuts)]
    if max(lengths) >= len(log_prior) or any(
        f and not s for f, s in zip(forced, starts, strict=True)
    ):
        return -np.inf
    return sum(gap[k] for k in cuts[1:-1] if not forced[k]) + sum(log_prior[n] for n in lengths)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=11),
    st.data(),
    st.integers(1, 5),
    st.floats(0.0, 2.0),
)
def test_viterbi_matches_exhaustive_search(gap, data, k_max, weight):
    n = len(gap)
    forced = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    forced[0] = True
    prior = np.concatenate([[-1e30], weight * length_log_prior(k_max, 1.7)[1:]])
    fast = viterbi_starts(np.array(gap), np.array(forced), prior)
    slow = viterbi_reference(gap, forced, prior)
    assert objective(fast, gap, forced, prior) == pytest.approx(objective(slow, gap, forced, prior))
    assert fast[0] and all(fast[forced])


def test_dp_recovers_two_character_words_from_weak_scores():
    # boundary evidence every other position, plus noise that a threshold at 0 would cut on
    gap = np.array([0, -0.3, 0.4, 0.1, 0.5, -0.2, 0.3, 0.2])
    forced = np.zeros(8, bool)
    forced[0] = True
    assert np.flatnonzero(decode_starts(gap, forced, DecodeOptions(method="threshold"))).tolist() == [
        0, 2, 3, 4, 6, 7,
    ]  # fmt: skip
    dp = decode_starts(gap, forced, DecodeOptions(prior_weight=1.0, prior_mean_atoms=2.0))
    assert np.flatnonzero(dp).tolist() == [0, 2, 4, 6]


def test_dp_bounds_word_length_and_keeps_forced_starts():
    gap = np.full(10, -5.0)  # no evidence of any boundary
    forced = np.zeros(10, bool)
    forced[[0, 7]] = True
    starts = decode_starts(gap, forced, DecodeOptions(max_word_atoms=3, prior_weight=0.0))
    cuts = [*np.flatnonzero(starts).tolist(), 10]
    assert max(b - a for a, b in itertools.pairwise(cuts)) <= 3
    assert starts[7] and len(cuts) - 1 == 4  # 7 atoms need 3 words, the last 3 one


def test_dp_without_prior_or_bound_is_the_threshold():
    rng = np.random.default_rng(0)
    gap = rng.normal(size=40)
    forced = rng.random(40) < 0.1
    forced[0] = True
    dp = decode_starts(gap, forced, DecodeOptions(max_word_atoms=40, prior_weight=0.0))
    assert dp.tolist() == (forced | (gap > 0)).tolist()


def test_peaks():
    gap = np.array([0.0, 1.0, 2.0, 1.0, -1.0, 0.5, 0.4, 3.0])
    forced = np.array([1, 0, 0, 0, 0, 0, 0, 0], bool)
    assert np.flatnonzero(peak_starts(gap, forced)).tolist() == [0, 2, 5, 7]
    forced[6] = True  # 0.5 and 0.4 are in different stretches now: both can be peaks
    assert np.flatnonzero(peak_starts(gap, forced)).tolist() == [0, 2, 5, 6, 7]


def test_length_prior():
    prior = length_log_prior(4, 1.6)
    assert prior[0] == -np.inf and np.exp(prior[1:]).sum() == pytest.approx(1.0)
    assert prior[1] > prior[2] > prior[3] > prior[4]
    assert length_log_prior(3, 1.0)[2] == -np.inf


def test_decode_lines_calibrates_the_centre():
    rng = np.random.default_rng(1)
    scores = [rng.normal(size=n).astype(np.float32) for n in (30, 1, 50, 0)]
    forced = [
        np.eye(1, len(s), dtype=bool).ravel() if len(s) else np.zeros(0, bool) for s in scores
    ]
    sizes = [np.full(len(s), 3.0) for s in scores]
    for method in ("threshold", "dp", "peaks"):
        out = decode_lines(scores, forced, sizes, DecodeOptions(method=method), 6.0)
        starts = np.concatenate(out.starts)
        assert mean_word_bytes(starts, np.concatenate(sizes)) >= 6.0
        assert all(s[0] for s in out.starts if len(s))  # every line starts a word
    fixed = decode_lines(
        scores, forced, sizes, DecodeOptions(method="threshold", threshold=0.5), 6.0
    )
    assert fixed.centre == 0.5
    assert (
        np.concatenate(fixed.starts).tolist()
        == (np.concatenate(forced) | (np.concatenate(scores) > 0.5)).tolist()
    )


def test_options_are_checked():
    with pytest.raises(BitbenchError, match="unknown decoder 'viterbi'"):
        DecodeOptions(method="viterbi")
    with pytest.raises(BitbenchError, match="max_word_atoms"):
        DecodeOptions(max_word_atoms=0)
    with pytest.raises(BitbenchError, match="prior_mean_atoms"):
        DecodeOptions(prior_mean_atoms=0.5)
