"""The torch hash RNG against Python integers; the torch facts against bitcodec's kernels."""

from __future__ import annotations

import numpy as np
import torch
from bitcodec import facts
from bitmask import hashrng
from bitmask.facts_torch import byte_facts
from bitmask_reference import draw64, mix, sample_key
from hypothesis import given, settings
from hypothesis import strategies as st

MASK64 = (1 << 64) - 1


def _as_signed(values: list[int]) -> torch.Tensor:
    return torch.tensor([v - (1 << 64) if v >= 1 << 63 else v for v in values], dtype=torch.int64)


def _as_unsigned(tensor: torch.Tensor) -> list[int]:
    return [v & MASK64 for v in tensor.tolist()]


@given(st.lists(st.integers(0, MASK64), min_size=1, max_size=50))
def test_mix64_matches_python_integers(values):
    assert _as_unsigned(hashrng.mix64(_as_signed(values))) == [mix(v) for v in values]


@given(
    seed=st.integers(0, 2**40),
    step=st.integers(0, 10**7),
    index=st.lists(st.integers(0, 2**40), min_size=1, max_size=4),
    counters=st.lists(st.integers(0, 2**21), min_size=1, max_size=8),
)
def test_draws_match_reference(seed, step, index, counters):
    time = hashrng.time_code(None, step)
    keys = hashrng.sample_keys(seed, time, torch.tensor(index))
    assert _as_unsigned(keys) == [sample_key(seed, time, i) for i in index]
    got = hashrng.draw_u24(keys, hashrng.Stream.BYTE, torch.tensor(counters)).tolist()
    want = [[draw64(sample_key(seed, time, i), "byte", c) >> 40 for c in counters] for i in index]
    assert got == want


def test_draws_look_uniform_and_streams_differ():
    keys = hashrng.sample_keys(3, 0, torch.arange(64))
    counters = torch.arange(4096)
    a = hashrng.draw_u24(keys, hashrng.Stream.BYTE, counters).double() / hashrng.U24
    b = hashrng.draw_u24(keys, hashrng.Stream.WORD, counters).double() / hashrng.U24
    assert abs(a.mean().item() - 0.5) < 0.005 and abs(a.var().item() - 1 / 12) < 0.002
    assert abs(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1].item()) < 0.01
    hist = torch.histc(a.flatten().float(), bins=16, min=0, max=1)
    assert (hist / hist.sum() - 1 / 16).abs().max().item() < 0.004


# Characters that exercise every rule: ASCII letters/digits/punct/space, 2-4 byte chars, CJK and
# kana (one unit each), combining marks and ZWJ (continue a unit), emoji, tab/newline.
_CHARS = "aZ09,. \t\n\u00e9\u0301\u4e2d\u6587\u3042\u30ab\uff83\u200d\U0001f600\u0915\u094d\u00a0"


@st.composite
def byte_rows(draw) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(min_size=1, max_size=40))
    text = draw(st.text(alphabet=_CHARS, min_size=1, max_size=20)).encode()
    cut = draw(st.integers(0, len(text) - 1))
    noise = draw(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=2))
    data = bytearray(text[cut:])  # windows start mid-character
    for where, value in noise:
        data[where % len(data)] = value
    return bytes(data)


@settings(max_examples=150, deadline=None)
@given(byte_rows())
def test_torch_facts_equal_bitcodec(row):
    data = np.frombuffer(row, dtype=np.uint8)
    got = byte_facts(torch.from_numpy(data.copy())[None].long())
    assert got.utf8_role[0].tolist() == facts.utf8_roles(data).tolist()
    assert got.char_class[0].tolist() == facts.char_classes(data).tolist()
    assert got.char_start[0].tolist() == facts.char_starts(data).tolist()
    assert got.word_start[0].tolist() == facts.word_starts(data).tolist()
    assert got.class_change_start[0].tolist() == facts.class_change_starts(data).tolist()


@settings(max_examples=60, deadline=None)
@given(byte_rows(), byte_rows(), st.integers(1, 3))
def test_padding_breaks_rows_like_separate_rows(first, second, gap):
    """Facts of 'first PAD.. second' equal bitcodec's facts of each part on its own."""
    data = np.frombuffer(first + b"\x80" * gap + second, dtype=np.uint8)
    pad = np.zeros(len(data), dtype=bool)
    pad[len(first) : len(first) + gap] = True
    got = byte_facts(torch.from_numpy(data.copy())[None].long(), torch.from_numpy(pad)[None])
    keep = ~pad
    for name, fn in (
        ("utf8_role", facts.utf8_roles),
        ("char_class", facts.char_classes),
        ("word_start", facts.word_starts),
        ("class_change_start", facts.class_change_starts),
    ):
        parts = np.concatenate(
            [fn(np.frombuffer(first, np.uint8)), fn(np.frombuffer(second, np.uint8))]
        )
        assert (
            getattr(got, name)[0].numpy()[keep].astype(np.int64).tolist()
            == parts.astype(np.int64).tolist()
        ), name
