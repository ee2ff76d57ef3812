"""Text <-> UTF-8 bytes <-> bits (uint8 0/1, MSB first, 8 bits per byte), in bulk with Numba.

    >>> from bitcodec import text_to_bits, bits_to_text
    >>> text_to_bits("A").tolist()
    [0, 1, 0, 0, 0, 0, 0, 1]
    >>> bits_to_text(text_to_bits("héllo 世界 🎉"))
    'héllo 世界 🎉'

Large inputs on machines with many threads run on numba's thread pool (prange); see
PARALLEL_MIN_BYTES / PARALLEL_MIN_THREADS. Everything else runs serially.
"""

from __future__ import annotations

import codecs
import sys
from typing import Any

import numba
import numpy as np

from bitcodec import _codec_kernels as K
from bitcodec._bytes_buffer import new_bytes
from bitcodec.errors import BitcodecError

# Threads are used only for inputs of at least PARALLEL_MIN_BYTES bytes on machines where numba
# has at least PARALLEL_MIN_THREADS threads. Past the caches these kernels are bound by memory
# bandwidth, which one core nearly saturates on small machines: on the 2-core dev machine, shared
# with other jobs, 2 threads ran at 0.5-0.9x of one (a static split waits for the slowest thread),
# so small machines stay serial. Both are module attributes: set them to change the policy.
PARALLEL_MIN_BYTES = 8 << 20
PARALLEL_MIN_THREADS = 4
_LITTLE_ENDIAN = sys.byteorder == "little"

BytesLike = bytes | bytearray | memoryview | np.ndarray


def _use_parallel(num_bytes: int) -> bool:
    return num_bytes >= PARALLEL_MIN_BYTES and numba.get_num_threads() >= PARALLEL_MIN_THREADS


def _word_aligned(*arrays: np.ndarray) -> bool:
    return _LITTLE_ENDIAN and all(a.ctypes.data % 8 == 0 for a in arrays)


def as_byte_array(data: Any, what: str = "data") -> np.ndarray:
    """``data`` as a C-contiguous uint8 array (no copy for bytes / uint8 arrays)."""
    if isinstance(data, str):
        raise BitcodecError(
            f"{what} is a str, not bytes: use text_to_bits(text), or encode it first"
        )
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, dtype=np.uint8)
    if not isinstance(data, np.ndarray):
        raise BitcodecError(
            f"{what} is a {type(data).__name__}: pass bytes, bytearray, memoryview or a uint8 numpy array"
        )
    if data.dtype == np.uint8:
        return np.ascontiguousarray(data)
    if data.dtype.kind not in "iu":
        raise BitcodecError(
            f"{what} has dtype {data.dtype}, not uint8: pass byte values as a uint8 array"
        )
    bad = np.flatnonzero((data.reshape(-1) < 0) | (data.reshape(-1) > 255))
    if bad.size:
        index = np.unravel_index(int(bad[0]), data.shape)
        raise BitcodecError(
            f"{what} holds {data[index]} at index {tuple(int(i) for i in index)}, "
            "which is not a byte value 0..255: pass bytes or a uint8 array"
        )
    return np.ascontiguousarray(data, dtype=np.uint8)


def as_bit_array(bits: Any, what: str = "bits") -> np.ndarray:
    """``bits`` as a C-contiguous uint8 array; checks the dtype but not yet the values."""
    if isinstance(bits, (str, bytes, bytearray, memoryview)):
        raise BitcodecError(
            f"{what} is a {type(bits).__name__}: pass a numpy array of 0/1 values "
            "(for a string of '0'/'1' use np.frombuffer(s.encode(), np.uint8) - 48)"
        )
    arr = np.asarray(bits)
    if arr.dtype == np.bool_:
        return np.ascontiguousarray(arr).view(np.uint8)
    if arr.size == 0 and arr.dtype.kind not in "iu":
        arr = arr.astype(np.uint8)
    if arr.dtype.kind not in "iu":
        raise BitcodecError(
            f"{what} have dtype {arr.dtype}: pass an integer or bool array of 0/1 values"
        )
    if arr.dtype != np.uint8:
        _raise_if_not_binary(arr, what)
        arr = arr.astype(np.uint8)
    return np.ascontiguousarray(arr)


def _raise_if_not_binary(bits: np.ndarray, what: str) -> None:
    """Raise naming the first element that is not 0 or 1 (slow path: only for errors)."""
    bad = np.flatnonzero((bits.reshape(-1) != 0) & (bits.reshape(-1) != 1))
    if bad.size:
        index = np.unravel_index(int(bad[0]), bits.shape)
        where = index[0] if bits.ndim == 1 else tuple(int(i) for i in index)
        position = f"index {int(where)}" if bits.ndim == 1 else f"[row, column] {list(where)}"
        raise BitcodecError(
            f"{what} hold the value {bits[index]} at {position}; a bit is 0 or 1: "
            "pass an array of 0/1 values only"
        )


def _check_out(out: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    if not isinstance(out, np.ndarray):
        raise BitcodecError(f"out= for {what} is a {type(out).__name__}: pass a numpy uint8 array")
    if out.shape != shape or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise BitcodecError(
            f"out= for {what} has shape {out.shape}, dtype {out.dtype}"
            f"{'' if out.flags.c_contiguous else ', not C-contiguous'}: "
            f"pass np.empty({shape}, dtype=np.uint8)"
        )
    if not out.flags.writeable:
        raise BitcodecError(f"out= for {what} is read-only: pass a writeable array")
    return out


def _bytes_to_bits_flat(src: np.ndarray, out: np.ndarray) -> None:
    """src uint8 [n] -> out uint8 [8n] (both 1-D, C-contiguous)."""
    if src.size == 0:
        return
    if _word_aligned(out):
        out64 = out.view(np.uint64)  # [n]: one word per byte of src
        if _use_parallel(src.size):
            K.bytes_to_bits_swar_parallel(src, out64)
        else:
            K.bytes_to_bits_swar(src, out64)
    else:
        K.bytes_to_bits_lut8(src, K.LUT8, out)


def _bits_to_bytes_flat(bits: np.ndarray, out: np.ndarray, what: str) -> None:
    """bits uint8 [8n] -> out uint8 [n]; raises BitcodecError naming the first bad bit."""
    if bits.size == 0:
        return
    if _word_aligned(bits):
        bits64 = bits.view(np.uint64)  # [n]: 8 bits of one byte per word
        if _use_parallel(out.size):
            ok = K.bits_to_bytes_word_parallel(bits64, out)
        else:
            ok = K.bits_to_bytes_word(bits64, out)
    else:
        ok = K.bits_to_bytes_portable(bits, out)
    if not ok:
        _raise_if_not_binary(bits, what)


def bytes_to_bits(data: BytesLike, out: np.ndarray | None = None) -> np.ndarray:
    """UTF-8 (or any) bytes -> uint8 [8n] of 0/1, MSB first. ``out``: a uint8 [8n] buffer."""
    src = as_byte_array(data).reshape(-1)
    shape = (8 * src.size,)
    out = (
        np.empty(shape, dtype=np.uint8) if out is None else _check_out(out, shape, "bytes_to_bits")
    )
    _bytes_to_bits_flat(src, out)
    return out


def bits_to_bytes(bits: Any) -> bytes:
    """uint8 (or bool / integer) [8n] of 0/1, MSB first -> n bytes."""
    arr = as_bit_array(bits)
    if arr.ndim != 1:
        raise BitcodecError(
            f"bits have shape {arr.shape}, expected 1-D: use batch_bits_to_bytes for 2-D batches"
        )
    if arr.size % 8:
        raise BitcodecError(
            f"bits have length {arr.size}, not a multiple of 8 (8 bits per byte): "
            f"pad or trim to {arr.size - arr.size % 8} or {arr.size + 8 - arr.size % 8}"
        )
    result, out = new_bytes(arr.size // 8)  # filled in place: no copy into a bytes object
    _bits_to_bytes_flat(arr, out, "bits")
    return out.tobytes() if result is None else result


def text_to_bits(text: str) -> np.ndarray:
    """str -> its UTF-8 bytes as uint8 [8n] of 0/1, MSB first."""
    if not isinstance(text, str):
        raise BitcodecError(
            f"text is a {type(text).__name__}, not str: use bytes_to_bits for bytes"
        )
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BitcodecError(
            f"text has a lone surrogate U+{ord(text[exc.start]):04X} at character {exc.start}, "
            "which UTF-8 cannot encode: remove it (or decode the source with errors='replace')"
        ) from None
    return bytes_to_bits(data)


def bits_to_text(bits: Any, errors: str = "strict") -> str:
    """uint8 [8n] of 0/1 -> str, decoding the bytes as UTF-8.

    ``errors`` is Python's decode error handler: "strict" raises BitcodecError naming the byte
    offset of the first invalid sequence; "replace", "ignore", ... pass through.
    """
    try:
        codecs.lookup_error(errors)  # Python looks handlers up only on the first error
    except LookupError:
        raise BitcodecError(
            f"errors={errors!r} is not a codec error handler: use 'strict', 'replace' or 'ignore'"
        ) from None
    data = bits_to_bytes(bits)
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        raise BitcodecError(
            f"bits are not valid UTF-8: {exc.reason} at byte offset {exc.start} "
            f"(bit {8 * exc.start}, byte 0x{data[exc.start]:02X}): "
            "pass errors='replace' to decode anyway, or bits_to_bytes for the raw bytes"
        ) from None


def batch_bytes_to_bits(byte_batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 [N, L] -> uint8 [N, 8L] of 0/1 (row i's bits are row i's bytes, MSB first)."""
    src = as_byte_array(byte_batch, "byte_batch")
    if src.ndim != 2:
        raise BitcodecError(
            f"byte_batch has shape {src.shape}, expected [N, L]: use bytes_to_bits for 1-D data"
        )
    n, length = src.shape
    shape = (n, 8 * length)
    if out is None:
        out = np.empty(shape, dtype=np.uint8)
    else:
        _check_out(out, shape, "batch_bytes_to_bits")
    # Rows are contiguous, so the flat bit stream of the flat byte stream is the answer.
    _bytes_to_bits_flat(src.reshape(-1), out.reshape(-1))  # [N*L] -> [N*8L]
    return out


def batch_bits_to_bytes(bit_batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 (or bool / integer) [N, 8L] of 0/1 -> uint8 [N, L]."""
    bits = as_bit_array(bit_batch, "bit_batch")
    if bits.ndim != 2:
        raise BitcodecError(
            f"bit_batch has shape {bits.shape}, expected [N, 8L]: use bits_to_bytes for 1-D bits"
        )
    n, num_bits = bits.shape
    if num_bits % 8:
        raise BitcodecError(
            f"bit_batch rows have {num_bits} bits, not a multiple of 8 (8 bits per byte): "
            "pad or trim each row to a multiple of 8"
        )
    shape = (n, num_bits // 8)
    if out is None:
        out = np.empty(shape, dtype=np.uint8)
    else:
        _check_out(out, shape, "batch_bits_to_bytes")
    if bits.size:
        try:
            _bits_to_bytes_flat(bits.reshape(-1), out.reshape(-1), "bit_batch")  # [N*8L] -> [N*L]
        except BitcodecError:
            _raise_if_not_binary(bits, "bit_batch")  # re-raise with the [row, column] position
            raise
    return out


__all__ = [
    "PARALLEL_MIN_BYTES",
    "PARALLEL_MIN_THREADS",
    "batch_bits_to_bytes",
    "batch_bytes_to_bits",
    "bits_to_bytes",
    "bits_to_text",
    "bytes_to_bits",
    "text_to_bits",
]
