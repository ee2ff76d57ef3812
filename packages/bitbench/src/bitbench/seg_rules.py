"""Hard segmentation rules for text without spaces (Chinese): which cuts are forced, which are
never made, before the model's scores decide the rest.

A line is read as *atoms*, the smallest pieces a word is made of:

- a Han character (CJK ideographs, plus ○ and 〇, which Chinese uses as the digit zero);
- a run of digits and non-Han letters (``runs``), with ``. ． , : ： / ／ ∶ ·`` kept between two
  digits (PKU writes ``１３·４亿``), a ``% ％ ‰`` right after a digit and a sign (``- － + ＋``)
  right before one when no digit or letter precedes it: ``16.4％``, ``－9``, ``3／4``, ``WTO``,
  ``MP3`` stay whole;
- a run of one repeated punctuation or symbol character (``——``, ``……``), a word of its own
  (``punctuation``);
- a run of whitespace, which separates words and is no part of any (``spaces``);
- combining marks and other format characters join the atom before them.

Forced cuts come before and after punctuation and whitespace atoms and at script changes
(``scripts``: Han, digit/letter runs and other letters), except from a number to the Han
character after it, which the model decides (PKU writes ``2001年``, ``12月``, ``55.6亿`` as one
word, ``20 世纪`` as two). These are the rules the segmental LM papers apply before their models
see the text (Sun and Deng 2018; Downey et al.'s MSLM tokenizer replaces digit, Latin and
punctuation runs by one symbol each; Sun and Deng's ``CWSTokenizer`` joins digit runs and
Latin runs into one unit each and leaves every punctuation mark alone, a run of one repeated mark
joined). With every rule off each character is an atom and only the model decides. The cutting is
one Numba pass over the code points (a 5 MB line takes about a second).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numba
import numpy as np
from bitcodec.facts import CharClass, codepoint_class_table

from bitbench.errors import BitbenchError

RULE_NAMES = ("punctuation", "scripts", "runs", "spaces")

_INNER_NUMBER = frozenset(".．,:：/／∶·")  # kept between two digits
_PERCENT = frozenset("%％‰")  # kept after a digit
_SIGN = frozenset("-－+＋")  # kept before a digit when nothing alphanumeric precedes it
_HAN_EXTRA = frozenset("○〇")


class Script(IntEnum):
    """What a character is, for the rules."""

    HAN = 0
    DIGIT = 1
    LETTER = 2  # non-Han letters: Latin, Greek, Cyrillic, kana, hangul...
    PUNCT = 3  # punctuation and symbols (Unicode P* and S*)
    SPACE = 4
    MARK = 5  # combining marks, format and control characters: join the character before


@dataclass(frozen=True)
class SegmentRules:
    """Which hard rules apply (all on by default; ``SegmentRules.none()`` leaves all to the
    model)."""

    punctuation: bool = True
    scripts: bool = True
    runs: bool = True
    spaces: bool = True

    @classmethod
    def none(cls) -> SegmentRules:
        return cls(punctuation=False, scripts=False, runs=False, spaces=False)

    @classmethod
    def parse(cls, spec: str) -> SegmentRules:
        """``"all"``, ``"none"`` or a comma list of rule names (``"punctuation,spaces"``)."""
        spec = spec.strip().lower()
        if spec in ("all", "default"):
            return cls()
        if spec in ("none", ""):
            return cls.none()
        names = [s.strip() for s in spec.split(",") if s.strip()]
        unknown = [n for n in names if n not in RULE_NAMES]
        if unknown:
            raise BitbenchError(
                f"unknown segmentation rule '{unknown[0]}': use all, none or a comma list of "
                f"{', '.join(RULE_NAMES)}"
            )
        return cls(**{name: name in names for name in RULE_NAMES})

    def spec(self) -> str:
        on = [name for name in RULE_NAMES if getattr(self, name)]
        return "all" if len(on) == len(RULE_NAMES) else ",".join(on) or "none"


def char_scripts(text: str) -> np.ndarray:
    """uint8 [len(text)]: the ``Script`` of every character."""
    if not text:
        return np.zeros(0, dtype=np.uint8)
    cps = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
    cls = codepoint_class_table()[cps]
    out = np.full(cps.shape, int(Script.MARK), dtype=np.uint8)
    out[cls == int(CharClass.LETTER)] = Script.LETTER
    out[cls == int(CharClass.DIGIT)] = Script.DIGIT
    out[(cls == int(CharClass.PUNCT)) | (cls == int(CharClass.SYMBOL))] = Script.PUNCT
    out[cls == int(CharClass.SPACE)] = Script.SPACE
    han = (
        ((cps >= 0x4E00) & (cps <= 0x9FFF))
        | ((cps >= 0x3400) & (cps <= 0x4DBF))
        | ((cps >= 0xF900) & (cps <= 0xFAFF))
        | ((cps >= 0x20000) & (cps <= 0x3134F))
    )
    out[han] = Script.HAN
    out[_member(cps, _HAN_EXTRA)] = Script.HAN
    return out


@dataclass(frozen=True)
class Atoms:
    """One line cut into atoms. ``bounds`` int [m + 1]: character offsets (atom k is
    ``text[bounds[k]:bounds[k + 1]]``); ``forced`` bool [m]: a word must start at the atom (always
    at atom 0); ``dropped`` bool [m]: whitespace atoms, not part of any word; ``script`` uint8 [m]:
    the script of each atom's first character."""

    text: str
    bounds: np.ndarray
    forced: np.ndarray
    dropped: np.ndarray
    script: np.ndarray

    def __len__(self) -> int:
        return int(self.forced.shape[0])

    def words(self, starts: np.ndarray) -> list[str]:
        """The words of the line for word starts ``starts`` bool [m] (forced starts are added;
        whitespace atoms are left out): a word is the non-whitespace atoms from one start to the
        next, none when there are none."""
        m = len(self)
        if m == 0:
            return []
        starts = np.asarray(starts, dtype=bool) | self.forced
        starts[0] = True
        firsts = np.flatnonzero(starts)
        word_of = np.cumsum(starts) - 1  # [m] the word each atom is in
        kept = np.bincount(word_of[~self.dropped], minlength=firsts.shape[0]).tolist()
        gaps = (np.bincount(word_of[self.dropped], minlength=firsts.shape[0]) > 0).tolist()
        ends = [*firsts[1:].tolist(), m]
        b = self.bounds.tolist()
        out: list[str] = []
        for first, end, n_kept, gap in zip(firsts.tolist(), ends, kept, gaps, strict=True):
            if not n_kept:
                continue
            if not gap:  # the usual case: one slice of the text
                out.append(self.text[b[first] : b[end]])
            else:  # whitespace inside a word (only when it is no forced cut): left out
                parts = range(first, end)
                out.append(
                    "".join(self.text[b[k] : b[k + 1]] for k in parts if not self.dropped[k])
                )
        return out


_DIGIT, _LETTER, _PUNCT, _SPACE, _MARK = (
    int(s) for s in (Script.DIGIT, Script.LETTER, Script.PUNCT, Script.SPACE, Script.MARK)
)
# group of a script for the ``scripts`` rule: Han 0, digits and letters 1, the rest none (-1)
_SCRIPT_GROUP = np.array([0, 1, 1, -1, -1, -1], dtype=np.int8)


@numba.njit(cache=True)
def _alnum(script: int) -> bool:
    return script in (_DIGIT, _LETTER)


@numba.njit(cache=True)
def _run_end(
    scripts: np.ndarray, inner: np.ndarray, percent: np.ndarray, i: int, sign: bool
) -> int:
    """End (exclusive) of the digit/letter run starting at character ``i`` (after a sign)."""
    n = scripts.shape[0]
    j = i + 1 if sign else i
    while j < n:
        s = scripts[j]
        if (
            _alnum(s)
            or s == _MARK
            or (inner[j] and j + 1 < n and scripts[j - 1] == _DIGIT and scripts[j + 1] == _DIGIT)
        ):
            j += 1
        elif percent[j] and scripts[j - 1] == _DIGIT:
            return j + 1
        else:
            break
    return j


@numba.njit(cache=True)
def _atoms_kernel(
    cps: np.ndarray,  # uint32 [n] code points
    scripts: np.ndarray,  # uint8 [n]
    inner: np.ndarray,  # bool [n]: kept between two digits
    percent: np.ndarray,  # bool [n]: kept after a digit
    sign: np.ndarray,  # bool [n]: kept before a digit
    runs: bool,
    punctuation: bool,
    spaces: bool,
    bounds: np.ndarray,  # int64 [n + 1] atom starts, then the end (written)
    kinds: np.ndarray,  # uint8 [n] script of each atom (written)
) -> int:
    """Cut one line into atoms; returns their number m (bounds[:m + 1], kinds[:m] are set)."""
    n = scripts.shape[0]
    i = 0
    m = 0
    while i < n:
        s = scripts[i]
        starts_number = (
            sign[i]
            and i + 1 < n
            and scripts[i + 1] == _DIGIT
            and (i == 0 or not _alnum(scripts[i - 1]))
        )
        kind = s
        if runs and (_alnum(s) or starts_number):
            j = _run_end(scripts, inner, percent, i, starts_number)
            if starts_number:
                kind = _DIGIT
        elif punctuation and s == _PUNCT:
            j = i + 1
            while j < n and cps[j] == cps[i]:
                j += 1
        elif spaces and s == _SPACE:
            j = i + 1
            while j < n and scripts[j] == _SPACE:
                j += 1
        else:
            j = i + 1
        while j < n and scripts[j] == _MARK and kind != _SPACE:
            j += 1  # a combining mark never starts an atom
        bounds[m] = i
        kinds[m] = kind
        m += 1
        i = j
    bounds[m] = n
    return m


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)


def _member(cps: np.ndarray, chars: frozenset[str]) -> np.ndarray:
    return np.isin(cps, np.array(sorted(ord(c) for c in chars), dtype=np.uint32))


def line_atoms(text: str, rules: SegmentRules | None = None) -> Atoms:
    """``text`` (one line) cut into atoms with forced starts, under ``rules``."""
    rules = rules or SegmentRules()
    cps = _codepoints(text)
    scripts = char_scripts(text)
    n = cps.shape[0]
    bounds = np.empty(n + 1, dtype=np.int64)
    kinds = np.empty(n, dtype=np.uint8)
    m = _atoms_kernel(
        cps, scripts, _member(cps, _INNER_NUMBER), _member(cps, _PERCENT), _member(cps, _SIGN),
        rules.runs, rules.punctuation, rules.spaces, bounds, kinds,
    )  # fmt: skip
    kinds = kinds[:m].copy()
    prev, cur = kinds[:-1], kinds[1:]
    cut = np.zeros(max(0, m - 1), dtype=bool)
    if rules.punctuation:
        cut |= (prev == _PUNCT) | (cur == _PUNCT)
    if rules.spaces:
        cut |= (prev == _SPACE) | (cur == _SPACE)
    if rules.scripts:  # Han meets digits or letters (a number -> Han is left to the signal)
        g_prev, g_cur = _SCRIPT_GROUP[prev], _SCRIPT_GROUP[cur]
        cut |= (g_prev >= 0) & (g_cur >= 0) & (g_prev != g_cur) & ~((prev == _DIGIT) & (cur == 0))
    if rules.runs:  # two runs meet only where one ended (after a %)
        cut |= ((prev == _DIGIT) | (prev == _LETTER)) & ((cur == _DIGIT) | (cur == _LETTER))
    forced = np.concatenate([np.ones(min(m, 1), dtype=bool), cut])
    dropped = kinds == _SPACE if rules.spaces else np.zeros(m, dtype=bool)
    return Atoms(text=text, bounds=bounds[: m + 1].copy(), forced=forced, dropped=dropped,
                 script=kinds)  # fmt: skip
