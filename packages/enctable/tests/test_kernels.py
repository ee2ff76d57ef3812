"""Each Numba kernel against its plain reference (enctable._reference), on random inputs."""

from __future__ import annotations

import numpy as np
from enctable import _reference as ref
from enctable import patterns
from enctable.hashing import fnv1a64_reference, hash_spans, make_prefix_index
from enctable.matching import count_occurrences
from enctable.spans import char_spans, piece_spans, unit_spans
from enctable.viterbi import decode_codes, viterbi_encode
from hypothesis import given, settings
from hypothesis import strategies as st

# small alphabets make repeats (and so matches) likely; 0xE4.. bytes make UTF-8 characters
ALPHABET = st.sampled_from([0x61, 0x62, 0x20, 0xE4, 0xB8, 0x80, 0xC3, 0xA9, 0xFF])


def rows_strategy(max_rows: int = 4, max_len: int = 24):
    return st.integers(1, max_len).flatmap(
        lambda length: st.lists(
            st.lists(ALPHABET, min_size=length, max_size=length), min_size=1, max_size=max_rows
        ).map(lambda rows: (np.array(rows, dtype=np.uint8), length))
    )


@settings(deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=8))
def test_hash_spans_matches_python_fnv(chunks: list[bytes]) -> None:
    flat = np.frombuffer(b"".join(chunks), np.uint8)
    lens = np.array([len(c) for c in chunks], np.int64)
    ends = np.cumsum(lens)
    out = np.empty(len(chunks), np.uint64)
    hash_spans(flat, ends - lens, ends, out)
    assert [int(x) for x in out] == [fnv1a64_reference(c) for c in chunks]


@settings(deadline=None)
@given(rows_strategy())
def test_char_spans_matches_reference(batch) -> None:
    rows, length = batch
    flat = rows.reshape(-1)
    s, e = np.empty(flat.shape[0], np.int64), np.empty(flat.shape[0], np.int64)
    n = char_spans(flat, length, s, e)
    assert list(zip(s[:n].tolist(), e[:n].tolist(), strict=True)) == ref.char_spans_ref(
        flat, length
    )


@settings(deadline=None)
@given(rows_strategy(), st.booleans(), st.randoms(use_true_random=False))
def test_unit_and_piece_spans_match_reference(batch, trim: bool, rnd) -> None:
    rows, length = batch
    flat = rows.reshape(-1)
    starts = np.array([rnd.random() < 0.3 for _ in range(flat.shape[0])], bool)
    s, e = np.empty(flat.shape[0], np.int64), np.empty(flat.shape[0], np.int64)
    n = unit_spans(starts, length, trim, s, e)
    units = list(zip(s[:n].tolist(), e[:n].tolist(), strict=True))
    assert units == ref.unit_spans_ref(starts, length, trim)
    size = 2 * int((e[:n] - s[:n]).sum())
    ps, pe = np.empty(size, np.int64), np.empty(size, np.int64)
    m = piece_spans(flat, s[:n].copy(), e[:n].copy(), 5, ps, pe)
    got = list(zip(ps[:m].tolist(), pe[:m].tolist(), strict=True))
    assert got == ref.piece_spans_ref(flat, units, 5)


@settings(max_examples=60, deadline=None)
@given(
    rows_strategy(max_rows=3, max_len=20),
    st.lists(st.binary(min_size=1, max_size=4), min_size=1, max_size=6, unique=True),
    st.booleans(),
    st.integers(1, 3),
    st.randoms(use_true_random=False),
)
def test_count_occurrences_matches_reference(batch, pats, trim, lo, rnd) -> None:
    rows, length = batch
    flat = rows.reshape(-1)
    # plant patterns so that matches happen
    for p in pats:
        at = rnd.randrange(flat.shape[0])
        flat[at : at + len(p)] = np.frombuffer(p, np.uint8)[: flat.shape[0] - at]
    starts = np.array([rnd.random() < 0.4 for _ in range(flat.shape[0])], bool)
    hi = lo + 1
    concat = np.frombuffer(b"".join(pats), np.uint8).copy()
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in pats])]).astype(np.int64)
    keys, vals = make_prefix_index(concat, offsets)
    seen, exact = np.zeros(len(pats)), np.zeros(len(pats))
    count_occurrences(
        flat, length, starts, trim, lo, hi, keys, vals, concat, offsets, 8, seen, exact
    )
    want_seen, want_exact = ref.count_occurrences_ref(flat, length, starts, trim, lo, hi, pats)
    np.testing.assert_array_equal(seen, want_seen)
    np.testing.assert_array_equal(exact, want_exact)


@settings(max_examples=80, deadline=None)
@given(
    st.binary(max_size=60).map(lambda b: bytes(x % 4 + 97 for x in b)),
    st.lists(
        st.binary(min_size=2, max_size=5).map(lambda b: bytes(x % 4 + 97 for x in b)),
        max_size=10,
        unique=True,
    ),
    st.lists(st.floats(0.2, 3.0), min_size=10, max_size=10),
)
def test_viterbi_is_optimal_and_lossless(data: bytes, pats: list[bytes], costs) -> None:
    concat = np.frombuffer(b"".join(pats), np.uint8).copy()
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in pats])]).astype(np.int64)
    codes = np.arange(256, 256 + len(pats), dtype=np.int64)
    cost = np.array(costs[: len(pats)], np.float64)
    keys, vals = make_prefix_index(concat, offsets)
    arr = np.frombuffer(data, np.uint8)
    out = np.empty(len(data), np.int64)
    m = viterbi_encode(arr, keys, vals, concat, offsets, codes, cost, 1.0, 8, out)
    got = out[:m]
    total = sum(1.0 if c < 256 else cost[c - 256] for c in got)
    want = ref.best_cost_ref(data, dict(zip(pats, cost.tolist(), strict=True)), 1.0)
    assert abs(total - want) < 1e-9
    code_offset = np.zeros(256 + len(pats), np.int64)
    code_len = np.zeros(256 + len(pats), np.int64)
    code_offset[codes], code_len[codes] = offsets[:-1], np.diff(offsets)
    decoded, bad = decode_codes(got, code_offset, code_len, concat)
    assert bad == -1 and decoded.tobytes() == data


def test_decode_codes_reports_first_unknown_code() -> None:
    concat, _offsets = patterns.gather(np.frombuffer(b"ab", np.uint8), np.array([0]), np.array([2]))
    code_offset = np.zeros(300, np.int64)
    code_len = np.zeros(300, np.int64)
    code_len[256] = 2
    _, bad = decode_codes(np.array([97, 256, 257, 5]), code_offset, code_len, concat)
    assert bad == 2
    _, bad = decode_codes(np.array([-1]), code_offset, code_len, concat)
    assert bad == 0
