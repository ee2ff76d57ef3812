"""Every metric on a hand-made case whose right answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bitbench.errors import BitbenchError
from bitbench.metrics import (
    BoundaryMatch,
    accuracy_counts,
    ascii_space_mask,
    bits_per_byte,
    bits_per_byte_from_logprobs,
    masked_accuracy,
    match_boundaries,
    neg_log2_probs,
    parse_segmented_line,
    sequence_start_mask,
    starts_from_scores,
    threshold_for_mean_length,
    whitespace_gold,
)


def test_masked_accuracy_counts_only_masked_positions():
    pred = np.array([1, 2, 3, 4, 5])
    true = np.array([1, 0, 3, 0, 0])
    mask = np.array([True, True, True, False, False])
    assert accuracy_counts(pred, true, mask) == (2, 3)
    assert masked_accuracy(pred, true, mask) == pytest.approx(2 / 3)


def test_masked_accuracy_empty_mask_is_nan_and_shape_mismatch_raises():
    assert math.isnan(masked_accuracy(np.zeros(3), np.zeros(3), np.zeros(3, bool)))
    with pytest.raises(BitbenchError, match="shape"):
        masked_accuracy(np.zeros(3), np.zeros(4), np.ones(3, bool))


def test_neg_log2_probs_uniform_and_certain():
    # Uniform over 256 classes: exactly 8 bits whatever the target.
    logits = np.zeros((2, 3, 256))
    targets = np.array([[0, 17, 255], [1, 2, 3]])
    np.testing.assert_allclose(neg_log2_probs(logits, targets), 8.0)
    # Two classes with p = (0.8, 0.2): -log2 0.8 and -log2 0.2.
    two = np.log(np.array([[0.8, 0.2], [0.8, 0.2]]))
    np.testing.assert_allclose(
        neg_log2_probs(two, np.array([0, 1])), [-math.log2(0.8), -math.log2(0.2)]
    )
    # Huge logits stay finite (log-sum-exp shift).
    big = np.array([[1000.0, 0.0]])
    assert neg_log2_probs(big, np.array([0]))[0] == pytest.approx(0.0, abs=1e-9)


def test_bits_per_byte_units_covering_several_bytes():
    # Two BPE tokens of 4 and 2 bytes with p = 1/16 and 1/4: (4 + 2) bits over 6 bytes = 1 bpb.
    assert bits_per_byte([4.0, 2.0], [4, 2]) == pytest.approx(1.0)
    assert bits_per_byte_from_logprobs(np.log([1 / 16, 1 / 4]), np.array([4, 2])) == pytest.approx(
        1.0
    )
    with pytest.raises(BitbenchError, match="zero covered bytes"):
        bits_per_byte([1.0], [0])


def test_match_boundaries_hand_counted():
    gold = np.array([0, 1, 0, 1, 0, 1], bool)
    pred = np.array([1, 1, 1, 0, 0, 1], bool)
    evaluate = np.array([0, 1, 1, 1, 1, 1], bool)  # position 0 excluded
    s = match_boundaries(pred, gold, evaluate)
    assert (s.true_pos, s.false_pos, s.false_neg) == (2, 1, 1)
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(2 / 3)
    both = s + BoundaryMatch(1, 0, 0)
    assert both.precision == pytest.approx(3 / 4)
    assert set(s.as_dict()) == {"boundary_precision", "boundary_recall", "boundary_f1"}


def test_match_boundaries_zero_division_is_zero():
    s = BoundaryMatch(0, 0, 0)
    assert (s.precision, s.recall, s.f1) == (0.0, 0.0, 0.0)


def test_whitespace_gold_on_text():
    data = np.frombuffer(b"ab cd  e\nf", dtype=np.uint8)
    gold, evaluate = whitespace_gold(ascii_space_mask(data))
    #                      a  b  _  c  d  _  _  e  \n f
    assert gold.tolist() == [1, 0, 0, 1, 0, 0, 0, 1, 0, 1]
    assert evaluate.tolist() == [0, 1, 0, 1, 1, 0, 0, 1, 0, 1]


def test_whitespace_gold_respects_document_starts_and_rows():
    data = np.frombuffer(b"abcdabcd", dtype=np.uint8).reshape(2, 4)
    doc = np.zeros((2, 4), bool)
    doc[1, 2] = True
    starts = sequence_start_mask(data.shape, doc)
    gold, evaluate = whitespace_gold(ascii_space_mask(data), starts)
    assert gold.tolist() == [[1, 0, 0, 0], [1, 0, 1, 0]]
    assert evaluate.tolist() == [[0, 1, 1, 1], [0, 1, 0, 1]]


def test_parse_segmented_line_multibyte():
    data, gold = parse_segmented_line("共同  创造 a 美好\n")
    assert data == "共同创造a美好".encode()
    expected = np.zeros(len(data), bool)
    expected[[0, 6, 12, 13]] = True
    assert gold.tolist() == expected.tolist()


def test_threshold_for_mean_length():
    scores = np.array([0.9, 0.1, 0.2, 0.8, 0.3, 0.7, 0.0, 0.4])
    thr = threshold_for_mean_length(scores, target_length=4.0)
    starts = starts_from_scores(scores, thr)
    assert starts.sum() == 2  # 8 positions / 4 bytes per unit
    assert starts.tolist() == [1, 0, 0, 1, 0, 0, 0, 0]
    with pytest.raises(BitbenchError, match="below one byte"):
        threshold_for_mean_length(scores, 0.5)
