"""Per-byte facts about UTF-8 text, in bulk (Numba), for masking and evaluation.

Every function takes uint8 bytes of shape [L] or [N, L] (rows are independent sequences; bytes,
bytearray and memoryview are read as one row) and returns an array of the same shape.

    >>> import numpy as np
    >>> from bitcodec.facts import utf8_roles, word_starts
    >>> data = np.frombuffer("hi 世".encode(), np.uint8)
    >>> utf8_roles(data).tolist()        # ASCII ASCII ASCII LEAD3 CONT CONT
    [0, 0, 0, 2, 4, 4]
    >>> word_starts(data).tolist()
    [True, False, False, True, False, False]

Decoding follows Python's strict UTF-8 decoder: a byte is a LEAD only when a complete valid
sequence follows (overlongs, surrogates and code points above U+10FFFF are INVALID), stray
continuation bytes are INVALID, and so are the bytes of a sequence cut off by the end of a row
(windows cut from a corpus start and end mid-character; those bytes get no character). Each
INVALID byte is a character of its own, class OTHER: like Python's errors='surrogateescape'
(errors='replace' differs only in writing one U+FFFD for a truncated sequence of 2-3 bytes).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numba
import numpy as np

from bitcodec import _facts_kernels as K
from bitcodec import _unicode_table
from bitcodec.codec import as_byte_array
from bitcodec.errors import BitcodecError


class Utf8Role(IntEnum):
    """What a byte is inside UTF-8."""

    ASCII = 0  # a one-byte character U+0000..U+007F
    LEAD2 = 1  # first byte of a valid 2-byte character
    LEAD3 = 2  # first byte of a valid 3-byte character
    LEAD4 = 3  # first byte of a valid 4-byte character
    CONT = 4  # a continuation byte of a valid character
    INVALID = 5  # anything else (each such byte stands alone)


NUM_UTF8_ROLES = len(Utf8Role)


class CharClass(IntEnum):
    """Coarse Unicode class of a character (from its general category)."""

    LETTER = 0  # L*
    DIGIT = 1  # N*
    PUNCT = 2  # P*
    SPACE = 3  # Z*, and whitespace controls (str.isspace: \t \n \v \f \r \x1c-\x1f U+0085)
    SYMBOL = 4  # S*
    OTHER = 5  # controls, format, combining marks, private use, unassigned, invalid bytes


NUM_CHAR_CLASSES = len(CharClass)

# Rows are spread over threads only for batches of at least PARALLEL_MIN_BYTES bytes on machines
# where numba has at least PARALLEL_MIN_THREADS threads: on small shared machines a static split
# over 2 threads waits for whichever is descheduled (see codec.PARALLEL_MIN_THREADS).
PARALLEL_MIN_BYTES = 1 << 20
PARALLEL_MIN_THREADS = 4


def codepoint_class_table() -> np.ndarray:
    """uint8 [0x110000]: the CharClass of every code point (built once per process, ~0.1 s).

    The array is shared and read-only: copy it before handing it to ``torch.from_numpy``
    (``torch.from_numpy(codepoint_class_table().copy())``).
    """
    return _unicode_table.class_table()


def _run(mode: int, data: Any) -> np.ndarray:
    src = as_byte_array(data)
    if src.ndim not in (1, 2):
        raise BitcodecError(f"data has shape {src.shape}: pass bytes of shape [L] or [N, L]")
    rows = src.reshape(1, -1) if src.ndim == 1 else src  # [N, L]
    out = np.empty(rows.shape, dtype=np.uint8)  # [N, L]
    if rows.size:
        classes = _unicode_table.class_table()
        flags = _unicode_table.unit_flags_table()
        if (
            rows.shape[0] > 1
            and rows.size >= PARALLEL_MIN_BYTES
            and numba.get_num_threads() >= PARALLEL_MIN_THREADS
        ):
            K.run_rows_parallel(mode, rows, classes, flags, out)
        else:
            K.run_rows(mode, rows, classes, flags, out)
    return out.reshape(src.shape)


def utf8_roles(data: Any) -> np.ndarray:
    """uint8, Utf8Role of each byte."""
    return _run(K.MODE_ROLES, data)


def char_starts(data: Any) -> np.ndarray:
    """bool, True at the first byte of each character (ASCII, LEAD*, and every INVALID byte)."""
    return utf8_roles(data) != Utf8Role.CONT


def char_classes(data: Any) -> np.ndarray:
    """uint8, CharClass of the character each byte belongs to (INVALID bytes: OTHER)."""
    return _run(K.MODE_CLASSES, data)


def word_starts(data: Any) -> np.ndarray:
    """bool, True at the first byte of each maximal run of non-SPACE characters."""
    return _run(K.MODE_WORD_STARTS, data).view(np.bool_)


def class_change_starts(data: Any) -> np.ndarray:
    """bool, a boundary prior for scripts with and without spaces.

    True at word starts, at characters whose CharClass differs from the previous character's,
    and at every CJK ideograph, Hiragana and Katakana character (those scripts have no spaces,
    so each character is a unit). Combining marks and ZWNJ/ZWJ continue the unit before them.
    The first character of a row always starts a unit.
    """
    return _run(K.MODE_UNIT_STARTS, data).view(np.bool_)


__all__ = [
    "NUM_CHAR_CLASSES",
    "NUM_UTF8_ROLES",
    "CharClass",
    "Utf8Role",
    "char_classes",
    "char_starts",
    "class_change_starts",
    "codepoint_class_table",
    "utf8_roles",
    "word_starts",
]
