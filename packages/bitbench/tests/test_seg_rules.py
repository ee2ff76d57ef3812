"""Hard segmentation rules: atoms, forced cuts, rule switches."""

from __future__ import annotations

import pytest
from bitbench.errors import BitbenchError
from bitbench.seg_rules import Script, SegmentRules, char_scripts, line_atoms


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
