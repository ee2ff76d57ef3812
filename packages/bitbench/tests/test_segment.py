"""Segmenting with a fake boundary model (scores known in advance)."""

from __future__ import annotations

import numpy as np
import pytest
from bitbench.errors import BitbenchError
from bitbench.segment import cut_units, pack_windows, score_sequences, segment_lines


class SpaceBoundaryModel:
    """Scores 1.0 on the byte after a space (and on 'X'), 0.0 elsewhere; remembers windows."""

    kind = "bitswin"
    target_unit_bytes = 4.0

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def boundary_scores(self, windows, *, pad=None, doc_starts=None):
        self.shapes.append(windows.shape)
        prev = np.zeros_like(windows)
        prev[:, 1:] = windows[:, :-1]
        scores = ((prev == 0x20) | (windows == ord("X"))).astype(np.float32)
        return np.where(pad, -5.0, scores) if pad is not None else scores


def test_pack_windows_cuts_long_sequences():
    windows, pad, pieces = pack_windows([b"abcdefg", b"", b"xy"], seq_len=3)
    assert pieces == [(0, 0, 3), (0, 3, 3), (0, 6, 1), (2, 0, 2)]
    assert windows[2, 0] == ord("g") and pad[2].tolist() == [False, True, True]
    with pytest.raises(BitbenchError, match="seq_len"):
        pack_windows([b"a"], 0)


def test_score_sequences_reassembles_windows():
    model = SpaceBoundaryModel()
    scored = score_sequences(model, [b"ab cd ef", b"g h"], seq_len=4)
    assert scored.scores[0].tolist() == [0, 0, 0, 1, 0, 0, 1, 0]  # "ab c" + "d ef"
    assert scored.window_starts[0].tolist() == [1, 0, 0, 0, 1, 0, 0, 0]
    assert scored.scores[1].tolist() == [0, 0, 1]


def test_segment_lines_explicit_threshold_and_multibyte():
    model = SpaceBoundaryModel()
    seg = segment_lines(model, ["the cat sat", "aXé"], threshold=0.5)
    assert seg.lines[0] == ["the ", "cat ", "sat"]
    assert seg.lines[1] == ["a", "Xé"]
    assert seg.joined("|") == ["the |cat |sat", "a|Xé"]
    assert seg.threshold == 0.5


def test_segment_lines_threshold_from_target_length():
    model = SpaceBoundaryModel()
    # 12 bytes at 4 bytes per unit -> the 3 highest scores are starts: 2 after spaces + 'X'
    seg = segment_lines(model, ["ab cd efXghi"])
    assert seg.lines[0] == ["ab ", "cd ", "ef", "Xghi"]
    assert seg.mean_unit_bytes == pytest.approx(3.0)


def test_cut_units_and_baseline_refusal():
    assert cut_units(b"abcd", np.array([1, 0, 1, 0], bool)) == [b"ab", b"cd"]

    class Baseline:
        kind = "bpe"

    with pytest.raises(BitbenchError, match="no boundary head"):
        segment_lines(Baseline(), ["x"])
