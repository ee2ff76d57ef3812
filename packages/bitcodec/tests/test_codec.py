"""The bit codec against numpy's packbits/unpackbits and Python's own UTF-8 codec."""

from __future__ import annotations

import numpy as np
import pytest
from bitcodec import (
    BitcodecError,
    batch_bits_to_bytes,
    batch_bytes_to_bits,
    bits_to_bytes,
    bits_to_text,
    bytes_to_bits,
    codec,
    text_to_bits,
)
from bitcodec import _codec_kernels as K
from bitcodec import _reference as R
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def test_msb_first_as_in_the_seed() -> None:
    assert text_to_bits("A").tolist() == [0, 1, 0, 0, 0, 0, 0, 1]
    assert "".join(map(str, text_to_bits("Hi"))) == "0100100001101001"
    assert text_to_bits("").shape == (0,)
    assert text_to_bits("A").dtype == np.uint8


@pytest.mark.parametrize(
    "text", ["中文", "😀🎉👨‍👩‍👧", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈", "\x00\x7f\x80\uffff\U0010ffff"]
)
def test_astral_and_edge_code_points(text: str) -> None:
    bits = text_to_bits(text)
    assert bits.size == 8 * len(text.encode("utf-8"))
    assert "".join(map(str, bits)) == R.seed_text_to_bits(text)
    assert bits_to_text(bits) == text


@settings(deadline=None)  # the first call may load or compile a numba kernel
@given(st.text())
def test_text_round_trip_and_agrees_with_python(text: str) -> None:
    bits = text_to_bits(text)
    assert np.array_equal(bits, R.bytes_to_bits_ref(text.encode("utf-8")))
    assert bits_to_text(bits) == text


@settings(deadline=None)  # the first call may load or compile a numba kernel
@given(st.binary(max_size=600))
def test_bytes_round_trip(data: bytes) -> None:
    bits = bytes_to_bits(data)
    assert np.array_equal(bits, R.bytes_to_bits_ref(data))
    assert bits_to_bytes(bits) == data
    assert bits_to_bytes(bits.astype(bool)) == data
    assert bits_to_bytes(bits.astype(np.int64)) == data
    assert bits_to_text(bits, errors="replace") == data.decode("utf-8", errors="replace")
    assert bits_to_text(bits, errors="ignore") == data.decode("utf-8", errors="ignore")


@settings(deadline=None)  # the first call may load or compile a numba kernel
@given(st.binary(max_size=100))
def test_strict_decoding_agrees_with_python(data: bytes) -> None:
    bits = bytes_to_bits(data)
    try:
        expected = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        with pytest.raises(BitcodecError, match=f"at byte offset {exc.start} "):
            bits_to_text(bits)
    else:
        assert bits_to_text(bits) == expected


@settings(deadline=None)  # the first call may load or compile a numba kernel
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=40)))
def test_batch_forms_match_numpy(byte_batch: np.ndarray) -> None:
    bits = batch_bytes_to_bits(byte_batch)
    assert bits.shape == (byte_batch.shape[0], 8 * byte_batch.shape[1])
    assert np.array_equal(bits, R.batch_bytes_to_bits_ref(byte_batch))
    back = batch_bits_to_bytes(bits)
    assert np.array_equal(back, byte_batch)
    assert np.array_equal(back, R.batch_bits_to_bytes_ref(bits))


def test_batch_out_buffers_are_filled_and_returned() -> None:
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, size=(5, 13), dtype=np.uint8)
    out_bits = np.full((5, 104), 7, dtype=np.uint8)
    assert batch_bytes_to_bits(batch, out=out_bits) is out_bits
    assert np.array_equal(out_bits, np.unpackbits(batch, axis=1))
    out_bytes = np.zeros((5, 13), dtype=np.uint8)
    assert batch_bits_to_bytes(out_bits, out=out_bytes) is out_bytes
    assert np.array_equal(out_bytes, batch)
    out_flat = np.empty(8 * 13, dtype=np.uint8)
    assert bytes_to_bits(batch[0], out=out_flat) is out_flat
    assert np.array_equal(out_flat, np.unpackbits(batch[0]))


def test_non_contiguous_and_strided_inputs() -> None:
    rng = np.random.default_rng(1)
    big = rng.integers(0, 256, size=(6, 20), dtype=np.uint8)
    view = big[::2, 3:17]  # strided rows
    assert np.array_equal(batch_bytes_to_bits(view), np.unpackbits(view, axis=1))
    bits = np.unpackbits(big, axis=1)[:, ::1][1::2]
    assert np.array_equal(batch_bits_to_bytes(bits), big[1::2])
    assert np.array_equal(bytes_to_bits(memoryview(big.tobytes())), np.unpackbits(big.ravel()))


@pytest.mark.parametrize("offset", range(8))
def test_unaligned_buffers_use_the_portable_kernels(offset: int) -> None:
    rng = np.random.default_rng(offset)
    data = rng.integers(0, 256, size=37, dtype=np.uint8)
    raw = np.empty(8 * 37 + 8, dtype=np.uint8)
    out = raw[offset : offset + 8 * 37]  # aligned only when offset == 0
    bytes_to_bits(data, out=out)
    assert np.array_equal(out, np.unpackbits(data))
    assert bits_to_bytes(out) == data.tobytes()
    out[5] = 3
    with pytest.raises(BitcodecError, match="value 3 at index 5"):
        bits_to_bytes(out)


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=1, max_size=300_000))
def test_parallel_kernels_match_serial(data: bytes) -> None:
    src = np.frombuffer(data, dtype=np.uint8)
    out64 = np.empty(src.size, dtype=np.uint64)
    K.bytes_to_bits_swar(src, out64)
    assert np.array_equal(out64.view(np.uint8), R.bytes_to_bits_ref(data))
    K.bytes_to_bits_swar_parallel(src, out64)
    bits = out64.view(np.uint8)
    assert np.array_equal(bits, R.bytes_to_bits_ref(data))
    packed = np.empty(src.size, dtype=np.uint8)
    assert K.bits_to_bytes_word_parallel(bits.view(np.uint64), packed)
    assert packed.tobytes() == data
    bits[-1] = 9
    assert not K.bits_to_bytes_word_parallel(bits.view(np.uint64), packed)
    assert not K.bits_to_bytes_word(bits.view(np.uint64), packed)


def test_public_functions_take_the_parallel_path_above_the_threshold(monkeypatch) -> None:
    monkeypatch.setattr(codec, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(codec, "PARALLEL_MIN_THREADS", 1)
    calls: list[str] = []
    for name in ("bytes_to_bits_swar_parallel", "bits_to_bytes_word_parallel"):
        kernel = getattr(K, name)
        monkeypatch.setattr(K, name, lambda *a, _k=kernel, _n=name: calls.append(_n) or _k(*a))
    data = np.random.default_rng(2).integers(0, 256, size=(3, 70_000), dtype=np.uint8)
    bits = batch_bytes_to_bits(data)
    assert np.array_equal(bits, np.unpackbits(data, axis=1))
    assert np.array_equal(batch_bits_to_bytes(bits), data)
    assert calls == ["bytes_to_bits_swar_parallel", "bits_to_bytes_word_parallel"]
    bits[2, 12345] = 2
    with pytest.raises(BitcodecError, match=r"\[row, column\] \[2, 12345\]"):
        batch_bits_to_bytes(bits)


# --- errors -----------------------------------------------------------------------------------


@settings(deadline=None)  # the first call may load or compile a numba kernel
@given(st.integers(min_value=1, max_value=200).filter(lambda n: n % 8))
def test_length_not_multiple_of_8(n: int) -> None:
    with pytest.raises(BitcodecError, match=f"length {n}, not a multiple of 8"):
        bits_to_bytes(np.zeros(n, dtype=np.uint8))
    with pytest.raises(BitcodecError, match="not a multiple of 8"):
        bits_to_text(np.zeros(n, dtype=np.uint8))
    with pytest.raises(BitcodecError, match="not a multiple of 8"):
        batch_bits_to_bytes(np.zeros((2, n), dtype=np.uint8))


@settings(deadline=None)  # the first call may load or compile a numba kernel
@given(
    st.integers(min_value=1, max_value=64)
    .map(lambda n: 8 * n)
    .flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.integers(2, 255)))
)
def test_values_other_than_0_1_name_the_first_bad_index(case: tuple[int, int, int]) -> None:
    n, index, value = case
    bits = np.random.default_rng(index).integers(0, 2, size=n).astype(np.uint8)
    bits[index] = value
    bits[index + 1 :][bits[index + 1 :] == 1] = value  # later bad values must not be reported
    with pytest.raises(BitcodecError, match=f"value {value} at index {index};"):
        bits_to_bytes(bits)


def test_other_bad_bit_inputs() -> None:
    with pytest.raises(BitcodecError, match="value -1 at index 3"):
        bits_to_bytes(np.array([0, 0, 0, -1, 0, 0, 0, 0]))
    with pytest.raises(BitcodecError, match="value 257 at index 0"):
        bits_to_bytes(np.array([257, 0, 0, 0, 0, 0, 0, 0]))  # would wrap to 1 as uint8
    with pytest.raises(BitcodecError, match="dtype float64"):
        bits_to_bytes(np.zeros(8))
    with pytest.raises(BitcodecError, match="is a str"):
        bits_to_bytes("01000001")
    with pytest.raises(BitcodecError, match="expected 1-D"):
        bits_to_bytes(np.zeros((2, 8), dtype=np.uint8))
    with pytest.raises(BitcodecError, match="expected \\[N, 8L\\]"):
        batch_bits_to_bytes(np.zeros(8, dtype=np.uint8))
    assert bits_to_bytes([0, 1, 0, 0, 0, 0, 0, 1]) == b"A"
    assert bits_to_bytes(np.zeros(0)) == b""


def test_bad_byte_and_text_inputs() -> None:
    with pytest.raises(BitcodecError, match="use text_to_bits"):
        bytes_to_bits("text")
    with pytest.raises(BitcodecError, match="holds 300 at index \\(1,\\)"):
        bytes_to_bits(np.array([1, 300]))
    assert np.array_equal(bytes_to_bits(np.array([65], dtype=np.int64)), text_to_bits("A"))
    with pytest.raises(BitcodecError, match="not str"):
        text_to_bits(b"bytes")
    with pytest.raises(BitcodecError, match="lone surrogate U\\+D800 at character 1"):
        text_to_bits("a\ud800b")
    with pytest.raises(BitcodecError, match="expected \\[N, L\\]"):
        batch_bytes_to_bits(np.zeros(3, dtype=np.uint8))


def test_bad_out_buffers() -> None:
    batch = np.zeros((2, 3), dtype=np.uint8)
    with pytest.raises(BitcodecError, match=r"out= .* has shape \(2, 23\)"):
        batch_bytes_to_bits(batch, out=np.empty((2, 23), dtype=np.uint8))
    with pytest.raises(BitcodecError, match="dtype int64"):
        batch_bytes_to_bits(batch, out=np.empty((2, 24), dtype=np.int64))
    with pytest.raises(BitcodecError, match="not C-contiguous"):
        batch_bytes_to_bits(batch, out=np.empty((2, 48), dtype=np.uint8)[:, ::2])
    read_only = np.empty((2, 3), dtype=np.uint8)
    read_only.flags.writeable = False
    with pytest.raises(BitcodecError, match="read-only"):
        batch_bits_to_bytes(np.zeros((2, 24), dtype=np.uint8), out=read_only)


def test_invalid_utf8_strict_names_the_offset() -> None:
    bits = bytes_to_bits(b"ok \xe4\xb8 and \xff")
    with pytest.raises(BitcodecError, match="at byte offset 3 \\(bit 24, byte 0xE4\\)"):
        bits_to_text(bits)
    assert bits_to_text(bits, errors="replace") == "ok \ufffd and \ufffd"
    assert bits_to_text(bits, errors="ignore") == "ok  and "
    with pytest.raises(BitcodecError, match="not a codec error handler"):
        bits_to_text(bits, errors="nonsense")
    with pytest.raises(BitcodecError, match="not a codec error handler"):
        bits_to_text(text_to_bits("valid"), errors="nonsense")


def test_swar_kernel_on_every_byte_value() -> None:
    src = np.arange(256, dtype=np.uint8)
    out64 = np.empty(256, dtype=np.uint64)
    K.bytes_to_bits_swar(src, out64)
    assert np.array_equal(out64.view(np.uint8).reshape(256, 8), K.LUT8)


@pytest.mark.parametrize("n", [4095, 4096, 4097, 70_001, 5 << 20])
def test_bits_to_bytes_fills_a_real_bytes_object(n: int) -> None:
    data = np.random.default_rng(n).integers(0, 256, size=n, dtype=np.uint8)
    out = bits_to_bytes(np.unpackbits(data))
    assert type(out) is bytes and len(out) == n
    assert out == R.bits_to_bytes_ref(np.unpackbits(data))
    assert hash(out) == hash(bytes(bytearray(out)))  # a normal, hashable, immutable bytes
    bad = np.unpackbits(data)
    bad[-1] = 5
    with pytest.raises(BitcodecError, match="value 5"):
        bits_to_bytes(bad)
