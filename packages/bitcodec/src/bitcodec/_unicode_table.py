"""Per-code-point tables for the facts kernels, built once per process from unicodedata.

Building both tables walks all 0x110000 code points (about 0.2 s), so they are built lazily on
first use and kept (functools.cache); no disk cache is needed at that cost.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np

NUM_CODE_POINTS = 0x110000

# Class numbers, as facts.CharClass (kept literal: facts imports this module).
LETTER, DIGIT, PUNCT, SPACE, SYMBOL, OTHER = range(6)
_CLASS_OF_MAJOR_CATEGORY = {"L": LETTER, "N": DIGIT, "P": PUNCT, "Z": SPACE, "S": SYMBOL}

# Flag bits of unit_flags_table():
CONTINUES = 1  # combining marks (M*) and ZWNJ/ZWJ: continue the unit of the character before
OWN_UNIT = 2  # CJK ideographs, Hiragana, Katakana: scripts without spaces, each char a unit

_OWN_UNIT_NAME_PREFIXES = (
    "CJK UNIFIED IDEOGRAPH",
    "CJK COMPATIBILITY IDEOGRAPH",
    "HIRAGANA",
    "KATAKANA",  # also KATAKANA-HIRAGANA PROLONGED SOUND MARK and friends
    "HALFWIDTH KATAKANA",
)
_OWN_UNIT_EXTRA = (0x3005, 0x3006, 0x3007)  # 々 〆 〇: ideographic iteration / closing / zero


def is_own_unit(ch: str) -> bool:
    """True for a character of a script written without spaces (one unit per character)."""
    if unicodedata.category(ch)[0] == "M":
        return False
    return ord(ch) in _OWN_UNIT_EXTRA or unicodedata.name(ch, "").startswith(
        _OWN_UNIT_NAME_PREFIXES
    )


@functools.cache
def class_table() -> np.ndarray:
    """uint8 [0x110000]: CharClass of every code point (read-only).

    L* -> LETTER, N* -> DIGIT, P* -> PUNCT, Z* and whitespace controls (str.isspace: \\t \\n \\v
    \\f \\r, \\x1c-\\x1f, U+0085) -> SPACE, S* -> SYMBOL; everything else (controls, format
    characters, combining marks, surrogates, private use, unassigned) -> OTHER.
    """
    table = np.full(NUM_CODE_POINTS, OTHER, dtype=np.uint8)
    category = unicodedata.category
    get = _CLASS_OF_MAJOR_CATEGORY.get
    for cp in range(NUM_CODE_POINTS):
        table[cp] = get(category(chr(cp))[0], OTHER)
    for cp in range(0x10000):  # every str.isspace() character lives in the BMP
        if chr(cp).isspace():
            table[cp] = SPACE
    table.flags.writeable = False
    return table


@functools.cache
def unit_flags_table() -> np.ndarray:
    """uint8 [0x110000] of CONTINUES / OWN_UNIT flag bits (read-only), for class_change_starts."""
    flags = np.zeros(NUM_CODE_POINTS, dtype=np.uint8)
    category = unicodedata.category
    for cp in range(NUM_CODE_POINTS):
        ch = chr(cp)
        cat = category(ch)
        if cat[0] == "M":
            flags[cp] = CONTINUES
        elif cat[0] in "LNPS" and is_own_unit(ch):
            flags[cp] = OWN_UNIT
    flags[0x200C] = CONTINUES  # ZERO WIDTH NON-JOINER
    flags[0x200D] = CONTINUES  # ZERO WIDTH JOINER (emoji sequences)
    flags.flags.writeable = False
    return flags
