"""Hard segmentation rules: atoms, forced cuts, rule switches; the Numba cutter against a
plain-Python reference of the same rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from bitbench.errors import BitbenchError
from bitbench.seg_rules import (
    _INNER_NUMBER,
    _PERCENT,
    _SIGN,
    RULE_NAMES,
    Atoms,
    Script,
    SegmentRules,
    char_scripts,
    line_atoms,
)
from hypothesis import given, settings
from hypothesis import strategies as st


def atoms_of(text: str, rules: SegmentRules | None = None) -> list[tuple[str, bool]]:
    """(atom text, forced start) pairs."""
    a = line_atoms(text, rules)
    return [(text[a.bounds[k] : a.bounds[k + 1]], bool(a.forced[k])) for k in range(len(a))]


def test_char_scripts():
    got = char_scripts("共○a1，％ \u0301é")
    assert got.tolist() == [
        Script.HAN, Script.HAN, Script.LETTER, Script.DIGIT, Script.PUNCT, Script.PUNCT,
        Script.SPACE, Script.MARK, Script.LETTER,
    ]  # fmt: skip
    assert char_scripts("").size == 0


def test_numbers_and_latin_runs_stay_whole():
    assert atoms_of("增长16.4％，达55.6亿") == [
        ("增", True), ("长", False), ("16.4％", True), ("，", True), ("达", True),
        ("55.6", True), ("亿", False),  # number -> Han: the model decides
    ]  # fmt: skip
    assert atoms_of("3／4和－9度") == [("3／4", True), ("和", False), ("－9", True), ("度", False)]
    assert atoms_of("WTO的MP3") == [("WTO", True), ("的", True), ("MP3", True)]
    assert atoms_of("1,000.5%x") == [("1,000.5%", True), ("x", True)]  # two runs meet: cut


def test_punctuation_runs_and_spaces():
    assert atoms_of("好——“是”……") == [
        ("好", True), ("——", True), ("“", True), ("是", True), ("”", True), ("……", True),
    ]  # fmt: skip
    a = line_atoms("the  cat")
    assert a.dropped.tolist() == [False, True, False]
    assert a.words(a.forced) == ["the", "cat"]
    assert line_atoms("").forced.size == 0


def test_combining_marks_join_the_character_before():
    assert atoms_of("共\u0301同", SegmentRules.none()) == [("共\u0301", True), ("同", False)]


def test_rule_switches():
    text = "中国WTO，1年"
    assert atoms_of(text, SegmentRules.none()) == [(c, i == 0) for i, c in enumerate(text)]
    only_punct = SegmentRules(punctuation=True, scripts=False, runs=False, spaces=False)
    assert atoms_of(text, only_punct) == [
        ("中", True), ("国", False), ("W", False), ("T", False), ("O", False),
        ("，", True), ("1", True), ("年", False),
    ]  # fmt: skip
    no_scripts = SegmentRules(scripts=False)
    assert atoms_of("中国WTO", no_scripts) == [("中", True), ("国", False), ("WTO", False)]
    assert atoms_of("中国WTO") == [("中", True), ("国", False), ("WTO", True)]


def test_parse_rules():
    assert SegmentRules.parse("all") == SegmentRules()
    assert SegmentRules.parse("none") == SegmentRules.none()
    assert SegmentRules.parse("punctuation, spaces") == SegmentRules(
        punctuation=True, scripts=False, runs=False, spaces=True
    )
    assert SegmentRules.parse("punctuation,spaces").spec() == "punctuation,spaces"
    assert SegmentRules().spec() == "all" and SegmentRules.none().spec() == "none"
    with pytest.raises(BitbenchError, match="unknown segmentation rule 'digits'"):
        SegmentRules.parse("punctuation,digits")


def test_slm_preprocessing_rules():
    """Sun and Deng's rules on hand-made text: a digit run (full- or half-width, with its decimal
    point and percent) is one unit, a Latin run is one unit, every punctuation mark is alone (a
    run of one repeated mark together), and a cut is forced around each of them."""
    text = "２０００年ＧＤＰ增长７·５％，达到3.5万亿元；iPhone卖出1,200台……好！"
    assert atoms_of(text) == [
        ("２０００", True), ("年", False), ("ＧＤＰ", True), ("增", True), ("长", False),
        ("７·５％", True), ("，", True), ("达", True), ("到", False), ("3.5", True), ("万", False),
        ("亿", False), ("元", False), ("；", True), ("iPhone", True), ("卖", True), ("出", False),
        ("1,200", True), ("台", False), ("……", True), ("好", True), ("！", True),
    ]  # fmt: skip
    # a Han character after a Latin run is always cut; after a number the signal decides
    assert [f for _, f in atoms_of("WTO成员")] == [True, True, False]
    assert [f for _, f in atoms_of("15日电")] == [True, False, False]
    # two different marks in a row are two words; the same mark repeated is one
    assert atoms_of("？！。。") == [("？", True), ("！", True), ("。。", True)]


# --- the plain-Python reference of line_atoms (the rules as first written, one character at a
# time); the Numba cutter must agree with it on every text and every rule switch ---


def _alnum(script: int) -> bool:
    return script in (Script.DIGIT, Script.LETTER)


def _run_end_reference(text: str, scripts: np.ndarray, i: int) -> int:
    n, j = len(text), i
    if text[j] in _SIGN:
        j += 1
    while j < n:
        s = int(scripts[j])
        if (
            _alnum(s)
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
            return j + 1
        else:
            break
    return j


def line_atoms_reference(text: str, rules: SegmentRules) -> tuple[list[int], list[bool], list[int]]:
    """(bounds, forced, kinds) of ``line_atoms``, one character at a time."""
    scripts = char_scripts(text)
    n, i = len(text), 0
    bounds: list[int] = []
    kinds: list[int] = []
    while i < n:
        s = int(scripts[i])
        starts_number = (
            text[i] in _SIGN
            and i + 1 < n
            and scripts[i + 1] == Script.DIGIT
            and (i == 0 or not _alnum(int(scripts[i - 1])))
        )
        kind = s
        if rules.runs and (_alnum(s) or starts_number):
            j = _run_end_reference(text, scripts, i)
            kind = int(Script.DIGIT) if starts_number else s
        elif rules.punctuation and s == Script.PUNCT:
            j = i + 1
            while j < n and text[j] == text[i]:
                j += 1
        elif rules.spaces and s == Script.SPACE:
            j = i + 1
            while j < n and scripts[j] == Script.SPACE:
                j += 1
        else:
            j = i + 1
        while j < n and scripts[j] == Script.MARK and kind != Script.SPACE:
            j += 1
        bounds.append(i)
        kinds.append(kind)
        i = j
    group = {Script.HAN: 0, Script.DIGIT: 1, Script.LETTER: 1}
    forced = [True] * min(1, len(kinds))
    for prev, cur in itertools.pairwise(kinds):
        cut = rules.punctuation and Script.PUNCT in (prev, cur)
        cut |= rules.spaces and Script.SPACE in (prev, cur)
        if rules.scripts and prev in group and cur in group and group[prev] != group[cur]:
            cut |= not (prev == Script.DIGIT and cur == Script.HAN)
        cut |= rules.runs and _alnum(prev) and _alnum(cur)
        forced.append(bool(cut))
    return [*bounds, n], forced, kinds


ALPHABET = "共同创造的○〇aZé1２3.．,/:·%％‰-－+＋，。——…“” \t\u0301\u200b"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=30), st.lists(st.booleans(), min_size=4, max_size=4))
def test_numba_cutter_matches_the_reference(text, switches):
    rules = SegmentRules(**dict(zip(RULE_NAMES, switches, strict=True)))
    a = line_atoms(text, rules)
    bounds, forced, kinds = line_atoms_reference(text, rules)
    assert a.bounds.tolist() == bounds
    assert a.forced.tolist() == forced
    assert a.script.tolist() == kinds
    assert a.dropped.tolist() == [rules.spaces and k == Script.SPACE for k in kinds]


def words_reference(atoms: Atoms, starts: np.ndarray) -> list[str]:
    """``Atoms.words`` one atom at a time."""
    starts = np.asarray(starts, dtype=bool) | atoms.forced
    out: list[str] = []
    current: list[str] = []
    for k in range(len(atoms)):
        if starts[k] and current:
            out.append("".join(current))
            current = []
        if not atoms.dropped[k]:
            current.append(atoms.text[atoms.bounds[k] : atoms.bounds[k + 1]])
    if current:
        out.append("".join(current))
    return out


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=30), st.data())
def test_words_match_the_reference(text, data):
    a = line_atoms(text)
    m = len(a)
    flags = st.lists(st.booleans(), min_size=m, max_size=m)
    starts = np.array(data.draw(flags), dtype=bool)
    assert a.words(starts) == words_reference(a, starts)
    # any whitespace pattern, also whitespace that is no forced cut (atoms made by hand)
    odd = Atoms(text, a.bounds, np.array(data.draw(flags), bool), np.array(data.draw(flags), bool),
                a.script)  # fmt: skip
    assert odd.words(starts) == words_reference(odd, starts)
