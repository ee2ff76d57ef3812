"""Per-byte facts: the Numba kernels against Python's own UTF-8 decoder and unicodedata."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from bitcodec import BitcodecError, _facts_kernels, _unicode_table, facts
from bitcodec import _reference as R
from bitcodec.facts import (
    NUM_CHAR_CLASSES,
    NUM_UTF8_ROLES,
    CharClass,
    Utf8Role,
    char_classes,
    char_starts,
    class_change_starts,
    codepoint_class_table,
    utf8_roles,
    word_starts,
)
from hypothesis import given, settings
from hypothesis import strategies as st

# Byte strings that mix valid text of every script with arbitrary bytes (invalid UTF-8,
# truncated sequences, stray continuation bytes), so both paths of the decoder are exercised.
mixed_bytes = st.lists(
    st.one_of(
        st.text(max_size=8).map(lambda t: t.encode("utf-8")),
        st.binary(max_size=4),
        st.sampled_from(
            [b"\xe4\xb8", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"]
        ),
        st.sampled_from([" ", "\t", "\u3000", "\u00a0", "\u0301", "\u200d", "中", "カ", "ひ"]).map(
            lambda t: t.encode("utf-8")
        ),
    ),
    max_size=12,
).map(b"".join)

NO_DEADLINE = settings(deadline=None)  # the first call may load or compile a numba kernel


def _arr(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


def test_enums_are_the_contract() -> None:
    assert [int(r) for r in Utf8Role] == list(range(6)) and NUM_UTF8_ROLES == 6
    assert [r.name for r in Utf8Role] == ["ASCII", "LEAD2", "LEAD3", "LEAD4", "CONT", "INVALID"]
    assert [c.name for c in CharClass] == ["LETTER", "DIGIT", "PUNCT", "SPACE", "SYMBOL", "OTHER"]
    assert NUM_CHAR_CLASSES == 6


def test_hand_checked_example() -> None:
    data = _arr("Hi, 42 世界 🎉\xa0é".encode())
    A, L2, L3, L4, C = Utf8Role.ASCII, Utf8Role.LEAD2, Utf8Role.LEAD3, Utf8Role.LEAD4, Utf8Role.CONT
    assert utf8_roles(data).tolist() == [
        A,
        A,
        A,
        A,
        A,
        A,
        A,
        L3,
        C,
        C,
        L3,
        C,
        C,
        A,
        L4,
        C,
        C,
        C,
        L2,
        C,
        L2,
        C,
    ]
    Le, D, P, S, Y = (
        CharClass.LETTER,
        CharClass.DIGIT,
        CharClass.PUNCT,
        CharClass.SPACE,
        CharClass.SYMBOL,
    )
    assert char_classes(data).tolist() == [
        Le,
        Le,
        P,
        S,
        D,
        D,
        S,
        Le,
        Le,
        Le,
        Le,
        Le,
        Le,
        S,
        Y,
        Y,
        Y,
        Y,
        S,
        S,
        Le,
        Le,
    ]
    assert np.flatnonzero(word_starts(data)).tolist() == [0, 4, 7, 14, 20]
    assert np.flatnonzero(char_starts(data)).tolist() == [
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        10,
        13,
        14,
        18,
        20,
    ]
    # H(word) , (class) 4(word) 世(word) 界(CJK) 🎉(word) é(word) + spaces after non-spaces
    assert np.flatnonzero(class_change_starts(data)).tolist() == [
        0,
        2,
        3,
        4,
        6,
        7,
        10,
        13,
        14,
        18,
        20,
    ]


@pytest.mark.parametrize(
    ("data", "roles"),
    [
        (b"\xc0\x80", [5, 5]),  # overlong NUL
        (b"\xe0\x80\xaf", [5, 5, 5]),  # overlong '/'
        (b"\xed\xa0\x80", [5, 5, 5]),  # surrogate U+D800
        (b"\xf4\x90\x80\x80", [5, 5, 5, 5]),  # above U+10FFFF
        (b"\xf5\x80", [5, 5]),
        (b"\x80abc", [5, 0, 0, 0]),  # stray continuation
        (b"a\xe4\xb8", [0, 5, 5]),  # truncated by the end of the row
        (b"\xe4\xb8a", [5, 5, 0]),  # truncated by the next character
        (b"\xef\xbf\xbd", [2, 4, 4]),  # a real U+FFFD is valid
        (b"\xf0\x90\x80\x80", [3, 4, 4, 4]),  # U+10000
    ],
)
def test_invalid_sequences(data: bytes, roles: list[int]) -> None:
    assert utf8_roles(data).tolist() == roles
    assert R.utf8_roles_ref(data).tolist() == roles
    invalid = np.array(roles) == Utf8Role.INVALID
    assert (char_classes(data)[invalid] == CharClass.OTHER).all()
    assert char_starts(data)[invalid].all()


@NO_DEADLINE
@given(st.text())
def test_char_starts_are_the_byte_offsets_of_each_character(text: str) -> None:
    data = text.encode("utf-8")
    offsets = np.cumsum([0] + [len(ch.encode("utf-8")) for ch in text])[:-1]
    assert np.flatnonzero(char_starts(data)).tolist() == offsets.tolist()
    roles = utf8_roles(data)
    assert not (roles == Utf8Role.INVALID).any()
    expected_classes = [R.char_class_ref(ch) for ch in text]
    assert char_classes(data)[offsets].tolist() == expected_classes


@NO_DEADLINE
@given(mixed_bytes)
def test_kernels_match_python_decoder(data: bytes) -> None:
    assert np.array_equal(utf8_roles(data), R.utf8_roles_ref(data))
    assert np.array_equal(char_starts(data), R.utf8_roles_ref(data) != Utf8Role.CONT)
    assert np.array_equal(char_classes(data), R.char_classes_ref(data))
    assert np.array_equal(word_starts(data), R.word_starts_ref(data))
    assert np.array_equal(class_change_starts(data), R.class_change_starts_ref(data))
    # each INVALID byte is one character, as Python's surrogateescape decoding makes it
    decoded = data.decode("utf-8", errors="surrogateescape")
    assert int(char_starts(data).sum()) == len(decoded)


@NO_DEADLINE
@given(st.lists(mixed_bytes, min_size=1, max_size=6), st.integers(1, 24))
def test_rows_are_independent(chunks: list[bytes], length: int) -> None:
    blob = b"".join(chunks).ljust(length * len(chunks), b"\xe4")
    batch = _arr(blob[: length * len(chunks)]).reshape(len(chunks), length)  # [N, L]
    for fn in (utf8_roles, char_starts, char_classes, word_starts, class_change_starts):
        out = fn(batch)
        assert out.shape == batch.shape
        for r in range(batch.shape[0]):
            assert np.array_equal(out[r], fn(batch[r].tobytes())), fn.__name__


@settings(max_examples=10, deadline=None)
@given(st.lists(mixed_bytes, min_size=8, max_size=8))
def test_parallel_rows_kernel_matches_serial(chunks: list[bytes]) -> None:
    blob = (b"".join(chunks) * 50).ljust(8, b"\x80")
    length = len(blob) // 8
    batch = _arr(blob[: 8 * length]).reshape(8, length)  # [8, L]
    tables = (_unicode_table.class_table(), _unicode_table.unit_flags_table())
    for mode in range(4):
        parallel = np.empty_like(batch)
        serial = np.empty_like(batch)
        _facts_kernels.run_rows_parallel(mode, batch, *tables, parallel)
        _facts_kernels.run_rows(mode, batch, *tables, serial)
        assert np.array_equal(parallel, serial), mode


def test_public_functions_take_the_parallel_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facts, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(facts, "PARALLEL_MIN_THREADS", 1)
    calls: list[int] = []
    kernel = _facts_kernels.run_rows_parallel
    monkeypatch.setattr(
        _facts_kernels, "run_rows_parallel", lambda *a: calls.append(a[0]) or kernel(*a)
    )
    batch = _arr(("日本語 text, 42! " * 40).encode()[:640]).reshape(4, 160)  # [4, 160]
    for r in range(4):
        assert np.array_equal(
            class_change_starts(batch)[r], R.class_change_starts_ref(batch[r].tobytes())
        )
        assert np.array_equal(utf8_roles(batch)[r], R.utf8_roles_ref(batch[r].tobytes()))
    assert set(calls) == {_facts_kernels.MODE_UNIT_STARTS, _facts_kernels.MODE_ROLES}


def test_word_starts_across_whitespace_kinds() -> None:
    text = "a\tb\nc\u3000d\u00a0e\u2029f\x85g  h"
    data = text.encode("utf-8")
    starts = np.flatnonzero(word_starts(data)).tolist()
    letters = [len(text[:i].encode("utf-8")) for i, ch in enumerate(text) if ch.isalpha()]
    assert starts == letters
    assert word_starts(b"   ").tolist() == [False] * 3
    assert word_starts(b"").shape == (0,)


def test_class_change_starts_for_scripts_without_spaces() -> None:
    for text in ("我爱北京天安门", "ひらがなカタカナ", "ｶﾀｶﾅ"):
        data = text.encode("utf-8")
        offsets = [len(text[:i].encode("utf-8")) for i in range(len(text))]
        assert np.flatnonzero(class_change_starts(data)).tolist() == offsets, text
    # Latin words are one unit each; combining marks and ZWJ emoji sequences continue units
    data = "cafe\u0301 ok 👨\u200d👩\u200d👧!".encode()
    expected = [0, 6, 7, 9, 10, 28]  # c, space, o, space, emoji sequence, "!"
    assert np.flatnonzero(class_change_starts(data)).tolist() == expected
    # Devanagari vowel signs (Mc/Mn) do not split a word
    assert np.flatnonzero(class_change_starts("हिन्दी".encode())).tolist() == [0]


def test_codepoint_class_table() -> None:
    table = codepoint_class_table()
    assert table.shape == (0x110000,) and table.dtype == np.uint8
    assert not table.flags.writeable
    assert table is codepoint_class_table()  # built once
    rng = np.random.default_rng(0)
    for cp in [*rng.integers(0, 0x110000, size=2000).tolist(), 0x20, 0x85, 0x3000, 0x1F600]:
        ch = chr(cp)
        if unicodedata.category(ch) == "Cs":
            assert table[cp] == CharClass.OTHER
        else:
            assert table[cp] == R.char_class_ref(ch), hex(cp)
    assert table[ord("\t")] == CharClass.SPACE and table[ord("٣")] == CharClass.DIGIT


def test_bad_inputs() -> None:
    with pytest.raises(BitcodecError, match="shape \\(1, 2, 3\\)"):
        utf8_roles(np.zeros((1, 2, 3), dtype=np.uint8))
    with pytest.raises(BitcodecError, match="dtype float32"):
        char_classes(np.zeros(4, dtype=np.float32))
    with pytest.raises(BitcodecError, match="use text_to_bits"):
        word_starts("text")
    # integer arrays in 0..255 (e.g. from a torch long tensor's .numpy()) are accepted
    assert utf8_roles(np.array([[104, 105]], dtype=np.int64)).tolist() == [[0, 0]]
