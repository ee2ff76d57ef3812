"""Hard segmentation rules for text without spaces (Chinese): which cuts are forced, which are
never made, before the model's scores decide the rest.

A line is read as *atoms*, the smallest pieces a word is made of:

- a Han character (CJK ideographs, plus ○ and 〇, which Chinese uses as the digit zero);
- a run of digits and non-Han letters (``runs``), with ``. ． , : ： / ／ ∶`` kept between two
  digits, a ``% ％ ‰`` right after a digit and a sign (``- － + ＋``) right before one when no
  digit or letter precedes it: ``16.4％``, ``－9``, ``3／4``, ``WTO``, ``MP3`` stay whole;
- a run of one repeated punctuation or symbol character (``——``, ``……``), a word of its own
  (``punctuation``);
- a run of whitespace, which separates words and is no part of any (``spaces``);
- combining marks and other format characters join the atom before them.

Forced cuts come before and after punctuation and whitespace atoms and at script changes
(``scripts``: Han, digit/letter runs and other letters), except from a number to the Han
character after it, which the model decides (PKU writes ``2001年``, ``12月``, ``55.6亿`` as one
word, ``20 世纪`` as two). These are the rules the segmental LM papers apply before their models
see the text (Sun and Deng 2018; Downey et al.'s MSLM tokenizer replaces digit, Latin and
punctuation runs by one symbol each). With every rule off each character is an atom and only
the model decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from bitcodec.facts import CharClass, codepoint_class_table

from bitbench.errors import BitbenchError

RULE_NAMES = ("punctuation", "scripts", "runs", "spaces")

_INNER_NUMBER = frozenset(".．,:：/／∶")  # kept between two digits
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
    for i, ch in enumerate(text):
        if ch in _HAN_EXTRA:
            out[i] = Script.HAN
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
        whitespace atoms are left out)."""
        starts = np.asarray(starts, dtype=bool) | self.forced
        out: list[str] = []
        current: list[str] = []
        for k in range(len(self)):
            if starts[k] and current:
                out.append("".join(current))
                current = []
            if not self.dropped[k]:
                current.append(self.text[self.bounds[k] : self.bounds[k + 1]])
        if current:
            out.append("".join(current))
        return out


def _is_alnum(script: int) -> bool:
    return script in (Script.DIGIT, Script.LETTER)


def _run_end(text: str, scripts: np.ndarray, i: int) -> int:
    """End (exclusive) of the digit/letter run starting at character ``i``."""
    n = len(text)
    j = i
    if text[j] in _SIGN:
        j += 1  # the caller checked that a digit follows
    while j < n:
        s = int(scripts[j])
        if (
            _is_alnum(s)
            or s == Script.MARK
            or (
                text[j] in _INNER_NUMBER
                and j + 1 < n
                and scripts[j - 1] == Script.DIGIT
                and scripts[j + 1] == Script.DIGIT
            )
        ):
            j += 1
        elif text[j] in _PERCENT and scripts[j - 1] == Script.DIGIT:
            j += 1
            break
        else:
            break
    return j


def line_atoms(text: str, rules: SegmentRules | None = None) -> Atoms:
    """``text`` (one line) cut into atoms with forced starts, under ``rules``."""
    rules = rules or SegmentRules()
    scripts = char_scripts(text)
    n = len(text)
    bounds: list[int] = []
    kinds: list[int] = []
    i = 0
    while i < n:
        s = int(scripts[i])
        starts_number = (
            text[i] in _SIGN
            and i + 1 < n
            and scripts[i + 1] == Script.DIGIT
            and (i == 0 or not _is_alnum(int(scripts[i - 1])))
        )
        if rules.runs and (_is_alnum(s) or starts_number):
            j = _run_end(text, scripts, i)
            kind = int(Script.DIGIT) if starts_number else s
        elif rules.punctuation and s == Script.PUNCT:
            j = i + 1
            while j < n and text[j] == text[i]:
                j += 1
            kind = s
        elif rules.spaces and s == Script.SPACE:
            j = i + 1
            while j < n and scripts[j] == Script.SPACE:
                j += 1
            kind = s
        else:
            j = i + 1
            kind = s
        while j < n and scripts[j] == Script.MARK and kind != Script.SPACE:
            j += 1  # a combining mark never starts an atom
        bounds.append(i)
        kinds.append(kind)
        i = j
    bounds.append(n)
    kind_arr = np.asarray(kinds, dtype=np.uint8)
    m = kind_arr.shape[0]
    forced = np.zeros(m, dtype=bool)
    if m:
        forced[0] = True
    dropped = np.zeros(m, dtype=bool)
    for k in range(1, m):
        prev, cur = int(kind_arr[k - 1]), int(kind_arr[k])
        if rules.punctuation and Script.PUNCT in (prev, cur):
            forced[k] = True
        if rules.spaces and Script.SPACE in (prev, cur):
            forced[k] = True
        if rules.scripts and _script_change(prev, cur):
            forced[k] = True
        if rules.runs and _is_alnum(prev) and _is_alnum(cur):
            forced[k] = True  # two runs meet only where one ended (after a %)
    if rules.spaces:
        dropped = kind_arr == Script.SPACE
    return Atoms(
        text=text,
        bounds=np.asarray(bounds, dtype=np.int64),
        forced=forced,
        dropped=dropped,
        script=kind_arr,
    )


def _script_change(prev: int, cur: int) -> bool:
    """A forced cut between atoms of these scripts (number -> Han is left to the model)."""
    group = {Script.HAN: 0, Script.DIGIT: 1, Script.LETTER: 1}
    if prev not in group or cur not in group:
        return False  # punctuation, spaces and marks have rules of their own
    if group[prev] == group[cur]:
        return False
    return not (prev == Script.DIGIT and cur == Script.HAN)
