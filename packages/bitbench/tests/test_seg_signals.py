"""Model signals on a fake masked model whose dependencies are known: neighbours inside a word
lean on each other, across a word boundary they do not."""

from __future__ import annotations

import numpy as np
import pytest
from bitbench.errors import BitbenchError
from bitbench.seg_decode import DecodeOptions
from bitbench.seg_signals import (
    SignalTerm,
    byte_offsets,
    chain_byte_bits,
    char_positions,
    make_scorer,
    mask_signals,
    parse_signal,
    parse_signal_terms,
)
from bitbench.segment import segment_lines

WORDS = ["共同", "创造", "美好", "的", "新世纪", "中国", "人民"]
PAIRS = {(w[i], w[i + 1]) for w in WORDS for i in range(len(w) - 1)}


class FakeMasked:
    """hidden_byte_bits: a hidden character costs 1 bit, plus 2 for each hidden neighbour it
    forms a word pair with (all on its first byte); remembers how many passes ran."""

    kind = "bitswin"
    target_unit_bytes = 4.5
    own_starts_threshold = None

    def __init__(self) -> None:
        self.calls = 0

    def hidden_byte_bits(self, windows, hidden, *, doc_starts=None, pad=None):
        self.calls += 1
        out = np.zeros(windows.shape, dtype=np.float32)
        pad = np.zeros(windows.shape, bool) if pad is None else pad
        for r in range(windows.shape[0]):
            n = int((~pad[r]).sum())
            firsts = [i for i in range(n) if (windows[r, i] & 0xC0) != 0x80]
            ends = [*firsts[1:], n]  # a window may end inside a character
            text = [
                windows[r, a:b].tobytes().decode("utf-8", "replace")
                for a, b in zip(firsts, ends, strict=False)
            ]
            for k, at in enumerate(firsts):
                if not hidden[r, at]:
                    continue
                bits = 1.0
                if k > 0 and hidden[r, firsts[k - 1]] and (text[k - 1], text[k]) in PAIRS:
                    bits += 2
                if (
                    k + 1 < len(firsts)
                    and hidden[r, firsts[k + 1]]
                    and (text[k], text[k + 1]) in PAIRS
                ):
                    bits += 2
                out[r, at] = bits
        return out

    def boundary_scores(self, windows, *, pad=None, doc_starts=None):
        return np.zeros(windows.shape, dtype=np.float32)


def test_char_positions():
    w = np.frombuffer("a共b".encode() + b"\x00", np.uint8)[None]
    pad = np.array([[0, 0, 0, 0, 0, 1]], bool)
    starts, index = char_positions(w, pad)
    assert starts.tolist() == [[1, 1, 0, 0, 1, 0]] and index.tolist() == [[0, 1, 1, 1, 2, -1]]


def test_pmi_is_low_inside_words_and_zero_across():
    text = "共同创造美好的新世纪"
    w = np.frombuffer(text.encode(), np.uint8)[None].copy()
    model = FakeMasked()
    sig = mask_signals(model.hidden_byte_bits, w, np.zeros(w.shape, bool), stride=4, chain=False)
    assert model.calls == 8  # 2 x stride passes
    chained = FakeMasked()  # all bits on the first byte: the chain rule changes nothing here
    same = mask_signals(chained.hidden_byte_bits, w, np.zeros(w.shape, bool), stride=4)
    assert chained.calls == 4 * 9  # per class: 3 byte places x (single, pair right, pair left)
    assert all(np.array_equal(sig[k], same[k]) for k in sig)
    firsts = np.flatnonzero((w[0] & 0xC0) != 0x80)
    pmi = sig["pmi"][0, firsts]
    # word-internal characters: both directions lean by 2 bits -> -2; word starts: 0
    assert pmi.tolist() == [0, -2, 0, -2, 0, -2, 0, 0, -2, -2]
    assert set(sig["surprisal"][0, firsts[1:]].tolist()) == {1.0}
    # lean: + where a character leans right (a word starts), - where it leans left
    lean = sig["lean"][0, firsts]
    # (纪, last: only e = b(纪's left pair 新世) - b(世纪) = 0, both inside 新世纪)
    assert np.sign(lean).tolist() == [0, -1, 1, -1, 1, -1, 1, 1, -1, 0]
    only = FakeMasked()
    mask_signals(
        only.hidden_byte_bits, w, np.zeros(w.shape, bool), stride=4, names=["lean"], chain=False
    )
    assert only.calls == 4  # pair passes only
    assert (sig["pmi"][0][(w[0] & 0xC0) == 0x80] == 0).all()


class BytesLean:
    """A hidden byte costs 1 bit plus 2 for every hidden byte before it in its character (the
    bytes of a character depend on each other), so a character's bits by the chain rule are
    its byte count, and one pass scores a 3-byte character 1 + 3 + 5 = 9."""

    def __init__(self) -> None:
        self.hidden: list[np.ndarray] = []

    def hidden_byte_bits(self, windows, hidden, *, doc_starts=None, pad=None):
        self.hidden.append(hidden.copy())
        pad = np.zeros(windows.shape, bool) if pad is None else pad
        starts, _ = char_positions(windows, pad)
        out = np.zeros(windows.shape, dtype=np.float32)
        for r in range(windows.shape[0]):
            before = 0
            for i in range(windows.shape[1]):
                before = 0 if starts[r, i] else before
                if hidden[r, i]:
                    out[r, i] = 1 + 2 * before
                    before += 1
        return out


def test_chain_rule_inside_characters():
    w = np.frombuffer("a共é同".encode(), np.uint8)[None].copy()  # 1, 3, 2, 3 bytes
    pad = np.zeros(w.shape, bool)
    starts, index = char_positions(w, pad)
    offset = byte_offsets(starts, pad)
    assert offset.tolist() == [[0, 0, 1, 2, 0, 1, 0, 1, 2]]
    scored = np.isin(index, [1, 3])  # 共 and 同
    also = index == 2  # é hidden too, never scored
    model = BytesLean()
    bits = chain_byte_bits(model.hidden_byte_bits, w, pad, scored, offset, also)
    assert bits.tolist() == [[0, 1, 1, 1, 0, 0, 1, 1, 1]]
    # pass k hides byte places >= k of the scored characters and all of é
    assert [h.astype(int).tolist() for h in model.hidden] == [
        [[0, 1, 1, 1, 1, 1, 1, 1, 1]],
        [[0, 0, 1, 1, 1, 1, 0, 1, 1]],
        [[0, 0, 0, 1, 1, 1, 0, 0, 1]],
    ]
    unchained = BytesLean().hidden_byte_bits(w, scored | also, pad=pad)
    assert unchained[scored].tolist() == [1, 3, 5, 1, 3, 5]
    # only rows with a k-th byte to score are forwarded
    two = np.stack([w[0], np.frombuffer(b"abcdefghi", np.uint8)])
    model = BytesLean()
    s2, i2 = char_positions(two, np.zeros(two.shape, bool))
    chain_byte_bits(
        model.hidden_byte_bits, two, np.zeros(two.shape, bool), i2 >= 0, byte_offsets(s2, pad)
    )
    assert [h.shape[0] for h in model.hidden] == [2, 1, 1]


def test_pmi_signal_segments_the_words():
    model = FakeMasked()
    lines = ["共同创造美好的新世纪", "中国人民创造新世纪"]
    seg = segment_lines(
        model,
        lines,
        options=DecodeOptions(method="threshold", threshold=-1.0),
        scorer=make_scorer(model, "pmi", seq_len=16),  # long lines: overlapping windows
    )
    assert seg.lines == [
        ["共同", "创造", "美好", "的", "新世纪"],
        ["中国", "人民", "创造", "新世纪"],
    ]


def test_combined_signals_and_errors():
    model = FakeMasked()
    scores = make_scorer(model, "pmi+head")([("共同创造".encode())])
    firsts = [0, 3, 6, 9]
    z = scores[0][firsts]
    assert z[0] > z[1] and z[2] > z[3] and z.mean() == pytest.approx(0.0, abs=1e-6)
    assert parse_signal("pmi + head") == ["pmi", "head"]
    with pytest.raises(BitbenchError, match="unknown signal 'entropy2'"):
        parse_signal("pmi+entropy2")
    assert parse_signal_terms("counts + 0.25*pmi") == [
        SignalTerm("counts", 1.0),
        SignalTerm("pmi", 0.25),
    ]
    for bad, match in (
        ("x*pmi", "not a number"),
        ("-1*pmi", "not a number"),
        ("pmi+2*pmi", "twice"),
    ):
        with pytest.raises(BitbenchError, match=match):
            parse_signal_terms(bad)
    weighted = make_scorer(model, "pmi+0*head")([("共同创造".encode())])[0][firsts]
    alone = make_scorer(model, "pmi")([("共同创造".encode())])[0][firsts]
    z_alone = (alone - alone.mean()) / alone.std()
    np.testing.assert_allclose(weighted, z_alone, atol=1e-5)  # a weight of 0 drops the head

    class HeadOnly:
        kind = "bitswin"

    with pytest.raises(BitbenchError, match="needs a byte-level model"):
        make_scorer(HeadOnly(), "pmi")
    with pytest.raises(BitbenchError, match="stride"):
        mask_signals(model.hidden_byte_bits, np.zeros((1, 3), np.uint8), np.zeros((1, 3), bool), 2)


def test_which_models_can_segment():
    from bitbench.evaluate import can_segment

    class Baseline:  # masked byte scores, no boundary head
        kind = "byte"

        def hidden_byte_bits(self, windows, hidden, *, doc_starts=None, pad=None):
            return np.zeros(windows.shape, np.float32)

    assert can_segment(FakeMasked(), "pmi+head") and can_segment(Baseline(), "lean")
    assert not can_segment(Baseline(), "head") and not can_segment(object(), "pmi")
