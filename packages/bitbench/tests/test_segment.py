"""Segmenting with a fake boundary model (scores known in advance)."""

from __future__ import annotations

import numpy as np
import pytest
from bitbench.errors import BitbenchError
from bitbench.seg_decode import DecodeOptions
from bitbench.seg_rules import SegmentRules
from bitbench.segment import (
    char_byte_offsets,
    overlapping_pieces,
    score_sequences,
    segment_lines,
)
from hypothesis import given, settings
from hypothesis import strategies as st


class SpaceBoundaryModel:
    """Scores 1.0 on the byte after a space (and on 'X'), 0.0 elsewhere; remembers windows."""

    kind = "bitswin"
    target_unit_bytes = 4.0
    own_starts_threshold = None

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def boundary_scores(self, windows, *, pad=None, doc_starts=None):
        self.shapes.append(windows.shape)
        prev = np.zeros_like(windows)
        prev[:, 1:] = windows[:, :-1]
        scores = ((prev == 0x20) | (windows == ord("X"))).astype(np.float32)
        return np.where(pad, -5.0, scores) if pad is not None else scores


class CharModel:
    """Scores each byte by its value and the previous byte's (a context of one byte)."""

    kind = "bitswin"
    target_unit_bytes = 3.0
    own_starts_threshold = None

    def boundary_scores(self, windows, *, pad=None, doc_starts=None):
        prev = np.zeros_like(windows)
        prev[:, 1:] = windows[:, :-1]
        return (windows.astype(np.float32) * 7 + prev) % 13


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet="ab 共同é", max_size=80),
    st.integers(min_value=4, max_value=24),
    st.integers(min_value=0, max_value=8),
)
def test_overlapping_pieces_tile_the_sequence(text, seq_len, context):
    data = text.encode()
    pieces = overlapping_pieces(data, seq_len, context)
    cores = [(c0, c1) for _, _, c0, c1 in pieces]
    assert [c for c0, c1 in cores for c in range(c0, c1)] == list(range(len(data)))
    for start, length, c0, c1 in pieces:
        assert 0 < length <= seq_len and start <= c0 < c1 <= start + length
        assert start == 0 or (data[start] & 0xC0) != 0x80  # windows start at characters


def test_overlapping_windows_match_one_long_window():
    data = [("共同创造美好的新世纪 abc " * 7).encode(), b"short"]
    whole = score_sequences(CharModel(), data, seq_len=1024)
    pieces = score_sequences(CharModel(), data, seq_len=32, context=4)
    for a, b in zip(whole, pieces, strict=True):
        assert a.tolist() == b.tolist()  # no byte is scored at a window's first position


def test_char_byte_offsets():
    assert char_byte_offsets("a共é").tolist() == [0, 1, 4, 6]
    assert char_byte_offsets("").tolist() == [0]


def test_segment_lines_threshold_spaces_and_multibyte():
    model = SpaceBoundaryModel()
    threshold = DecodeOptions(method="threshold", threshold=0.5)
    seg = segment_lines(model, ["the cat sat", "aXé"], options=threshold)
    assert seg.lines[0] == ["the", "cat", "sat"]  # whitespace separates, is no part of a word
    assert seg.lines[1] == ["aXé"]  # a Latin run stays whole
    assert seg.joined("|") == ["the|cat|sat", "aXé"]
    assert seg.threshold == 0.5
    raw = segment_lines(model, ["the cat sat", "aXé"], options=threshold, rules=SegmentRules.none())
    assert raw.lines == [["the ", "cat ", "sat"], ["a", "Xé"]]  # rules off: only the scores
    assert segment_lines(model, ["", "a"], options=threshold).lines == [[], ["a"]]


def test_segment_lines_calibrates_to_the_target_length():
    model = SpaceBoundaryModel()
    # 'ab cd efXghi': 10 non-space bytes; spaces force cuts (3 words), 'X' scores 1.0 -> the
    # search lands where 10 / words is nearest 4 bytes without going under: 3 words
    options, rules = DecodeOptions(method="threshold"), SegmentRules(runs=False)
    seg = segment_lines(model, ["ab cd efXghi"], options=options, rules=rules)
    assert seg.lines[0] == ["ab", "cd", "efXghi"]
    seg = segment_lines(
        model, ["ab cd efXghi"], options=options, rules=rules, target_unit_bytes=2.5
    )
    assert seg.lines[0] == ["ab", "cd", "ef", "Xghi"]
    assert seg.mean_unit_bytes == pytest.approx(2.5)


def test_segment_lines_rules_keep_numbers_and_cut_punctuation():
    model = SpaceBoundaryModel()  # scores 0 everywhere in Chinese: only rules cut
    seg = segment_lines(
        model,
        ["共同2001年，16.4％WTO——好"],
        options=DecodeOptions(method="threshold", threshold=0.5),
    )
    assert seg.lines[0] == ["共同", "2001年", "，", "16.4％", "WTO", "——", "好"]


def test_baseline_refusal():
    class Baseline:
        kind = "bpe"

    with pytest.raises(BitbenchError, match="no boundary head"):
        segment_lines(Baseline(), ["x"])
