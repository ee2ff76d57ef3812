"""Filling holes: the UTF-8 automaton and the commit order, with a fake byte model."""

from __future__ import annotations

import numpy as np
import pytest
from bitbench.errors import BitbenchError
from bitbench.fill import (
    ASCII,
    CONT,
    feasible_types,
    fill_text,
    holes_to_bytes,
)

KINDS = ["ascii", "cont", "lead2", "lead3", "lead4"]


class FakeByteModel:
    """Prefers a fixed byte per position (``wanted``), with ``confidence`` per position; records
    how many forward passes were made."""

    kind = "bitswin"

    def __init__(self, wanted: bytes, confidence: list[float]) -> None:
        self.wanted = wanted
        self.confidence = confidence
        self.calls = 0
        self.seen_hidden: list[int] = []

    def byte_log_probs(self, data: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.seen_hidden.append(int(hidden.sum()))
        probs = np.full((len(data), 256), 1e-6)
        for i, b in enumerate(self.wanted):
            probs[i, b] = self.confidence[i]
        probs /= probs.sum(axis=1, keepdims=True)
        return np.log(probs)


def test_holes_to_bytes_one_byte_per_hole():
    data, hidden = holes_to_bytes("a_é_", "_")
    assert data.tobytes() == b"a\x00\xc3\xa9\x00"
    assert hidden.tolist() == [False, True, False, False, True]
    with pytest.raises(BitbenchError, match="one character"):
        holes_to_bytes("abc", "__")


def test_feasible_types_after_a_lead_byte():
    # E4 (3-byte lead), then two unknowns, then 'x': both unknowns must be continuations.
    data = np.array([0xE4, 0, 0, ord("x")], dtype=np.uint8)
    known = np.array([True, False, False, True])
    ok = feasible_types(data, known)
    assert ok[1].tolist() == [False, True, False, False, False]
    assert ok[2].tolist() == [False, True, False, False, False]
    # A lone unknown between ASCII bytes can only be ASCII.
    data = np.array([ord("a"), 0, ord("b")], dtype=np.uint8)
    ok = feasible_types(data, np.array([True, False, True]))
    assert ok[1].tolist() == [True, False, False, False, False]
    # Unknown before a continuation: a lead (2-byte) or... only LEAD2 completes "?", 0xA9
    data = np.array([0, 0xA9], dtype=np.uint8)
    ok = feasible_types(data, np.array([False, True]))
    assert [KINDS[j] for j in np.flatnonzero(ok[0])] == ["lead2"]
    assert ASCII == 0 and CONT == 1


def test_fill_all_at_once_uses_one_forward_pass():
    model = FakeByteModel(b"the fox", [0.9] * 7)
    result = fill_text(model, "th_ f_x", steps=1)
    assert result.text == "the fox"
    assert model.calls == 1 and result.rounds == 1
    assert sorted(p for p, _, _ in result.filled) == [2, 5]


def test_fill_iterative_most_confident_first():
    conf = [0.9, 0.9, 0.3, 0.9, 0.9, 0.99, 0.9]
    model = FakeByteModel(b"the fox", conf)
    result = fill_text(model, "th_ f_x", steps=2)
    assert result.text == "the fox"
    assert model.calls == 2 and model.seen_hidden == [2, 1]
    assert [p for p, _, _ in result.filled] == [5, 2]  # 0.99 before 0.3


def test_fill_keeps_utf8_valid_where_possible():
    # The model wants 0xC3 (a 2-byte lead) at the first hole and ASCII 'a' at the second: once
    # the lead is committed, the second hole must be a continuation byte, so 'a' is refused and
    # the most probable continuation byte is taken instead.
    model = FakeByteModel(bytes([0x61, 0xC3, 0x61]), [0.9, 0.9, 0.8])
    result = fill_text(model, "a__", steps=1)
    assert result.data[:2] == b"a\xc3"
    assert 0x80 <= result.data[2] <= 0xBF
    result.data.decode("utf-8")  # valid


def test_fill_errors():
    model = FakeByteModel(b"abc", [0.5] * 3)
    with pytest.raises(BitbenchError, match="no hole"):
        fill_text(model, "abc")
    with pytest.raises(BitbenchError, match="steps"):
        fill_text(model, "a_c", steps=0)

    class NoHead:
        kind = "bpe"

    with pytest.raises(BitbenchError, match="cannot fill"):
        fill_text(NoHead(), "a_c")
