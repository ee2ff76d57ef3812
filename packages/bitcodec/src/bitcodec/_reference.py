"""Plain NumPy / pure-Python references for the Numba kernels; the tests compare against these.

They are written to be obviously right, not fast: the codec references use numpy's own
packbits/unpackbits, and the facts references use Python's UTF-8 decoder and unicodedata.
"""

from __future__ import annotations

import unicodedata

import numpy as np

from bitcodec._unicode_table import is_own_unit

# --- codec ------------------------------------------------------------------------------------


def bytes_to_bits_ref(data: bytes) -> np.ndarray:
    """bytes -> uint8 [8n] of 0/1, MSB first."""
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))


def bits_to_bytes_ref(bits: np.ndarray) -> bytes:
    """uint8 [8n] of 0/1 -> bytes."""
    return np.packbits(bits.astype(np.uint8)).tobytes()


def batch_bytes_to_bits_ref(byte_batch: np.ndarray) -> np.ndarray:
    """uint8 [N, L] -> uint8 [N, 8L]."""
    return np.unpackbits(byte_batch, axis=1)


def batch_bits_to_bytes_ref(bit_batch: np.ndarray) -> np.ndarray:
    """uint8 [N, 8L] -> uint8 [N, L]."""
    return np.packbits(bit_batch, axis=1)


def seed_text_to_bits(text: str) -> str:
    """The seed's pure-Python text_to_bits (appendix A.1), the slow baseline for benchmarks."""
    bit_string = ""
    for byte in text.encode("utf-8"):
        bit_string += bin(byte)[2:].zfill(8)
    return bit_string


# --- per-byte facts ---------------------------------------------------------------------------

# Same numbers as facts.Utf8Role / facts.CharClass (kept literal here so this stays independent).
ASCII, LEAD2, LEAD3, LEAD4, CONT, INVALID = range(6)
LETTER, DIGIT, PUNCT, SPACE, SYMBOL, OTHER = range(6)


def char_class_ref(ch: str) -> int:
    """Coarse class of one character, straight from unicodedata."""
    cat = unicodedata.category(ch)
    if cat[0] == "Z" or ch.isspace():
        return SPACE
    return {"L": LETTER, "N": DIGIT, "P": PUNCT, "S": SYMBOL}.get(cat[0], OTHER)


def decode_chars_ref(row: bytes) -> list[tuple[int, int, str | None]]:
    """Characters of ``row`` as (byte start, byte length, char or None for an invalid byte).

    Python's decoder with errors='surrogateescape' turns every byte it cannot decode into its
    own lone surrogate U+DC80..U+DCFF (valid UTF-8 never decodes to a surrogate), which is
    exactly bitcodec's rule: each invalid byte is a character of its own.
    """
    chars = []
    pos = 0
    for ch in row.decode("utf-8", errors="surrogateescape"):
        if 0xDC80 <= ord(ch) <= 0xDCFF:
            chars.append((pos, 1, None))
            pos += 1
        else:
            size = len(ch.encode("utf-8"))
            chars.append((pos, size, ch))
            pos += size
    assert pos == len(row)
    return chars


def utf8_roles_ref(row: bytes) -> np.ndarray:
    roles = np.empty(len(row), dtype=np.uint8)
    for start, size, ch in decode_chars_ref(row):
        if ch is None:
            roles[start] = INVALID
        else:
            roles[start] = (ASCII, LEAD2, LEAD3, LEAD4)[size - 1]
            roles[start + 1 : start + size] = CONT
    return roles


def char_classes_ref(row: bytes) -> np.ndarray:
    classes = np.empty(len(row), dtype=np.uint8)
    for start, size, ch in decode_chars_ref(row):
        classes[start : start + size] = OTHER if ch is None else char_class_ref(ch)
    return classes


def word_starts_ref(row: bytes) -> np.ndarray:
    starts = np.zeros(len(row), dtype=bool)
    prev_space = True  # the first non-space character of a row starts a word
    for start, _size, ch in decode_chars_ref(row):
        is_space = ch is not None and char_class_ref(ch) == SPACE
        if not is_space and prev_space:
            starts[start] = True
        prev_space = is_space
    return starts


def class_change_starts_ref(row: bytes) -> np.ndarray:
    starts = word_starts_ref(row)
    prev_class = -1  # the first character of a row starts a unit
    for start, _size, ch in decode_chars_ref(row):
        if ch is not None and (unicodedata.category(ch)[0] == "M" or ch in "\u200c\u200d"):
            continue  # combining marks and joiners continue the unit of the character before
        cls = OTHER if ch is None else char_class_ref(ch)
        if cls != prev_class or (ch is not None and is_own_unit(ch)):
            starts[start] = True
        prev_class = cls
    return starts
