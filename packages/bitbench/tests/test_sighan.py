"""SIGHAN scoring: the LCS kernel against its reference, GNU diff's discards, and hand-worked
cases pinning word P/R/F and OOV/IV recall to the definition the official script computes (the
script itself is third-party code and not kept in ../shared; its numbers on Sun and Deng's
published PKU predictions are reproduced to the 3 decimals it prints, README)."""

from __future__ import annotations

import pytest
from bitbench.sighan import (
    format_segmented,
    lcs_length_reference,
    lcs_matched,
    parse_score_output,
    read_segmented_lines,
    score_lines,
    split_words,
)
from hypothesis import given, settings
from hypothesis import strategies as st


def test_split_words_like_the_script():
    assert split_words("共同  创造\u3000美好\r\n") == ["共同", "创造", "美好"]
    assert split_words("a\tb\xa0c") == ["a", "b\xa0c"]  # only ASCII whitespace splits
    assert split_words("   ") == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from("abcd"), max_size=12), st.lists(st.sampled_from("abcd"), max_size=12)
)
def test_lcs_kernel_matches_reference(gold, test):
    matched = lcs_matched(gold, test, like_diff=False)
    assert int(matched.sum()) == lcs_length_reference(gold, test)
    assert lcs_matched(gold, test).sum() <= matched.sum()
    # the matched gold words, in order, are a subsequence of the test words
    it = iter(test)
    assert all(any(w == t for t in it) for w, m in zip(gold, matched, strict=True) if m)


def test_lcs_follows_gnu_diff_discards():
    # the test line's lone "的" sits inside a run of words absent from the gold, and "的" occurs
    # more than 5 times in the gold: diff discards it before its search (the official script
    # gives recall 0.000 here), a plain LCS would pair it
    gold = ["a", "的", "的", "的", "的", "的", "的", "b"]
    test = ["u1", "u2", "u3", "的", "u4", "u5", "u6"]
    assert lcs_matched(gold, test).sum() == 0
    assert lcs_matched(gold, test, like_diff=False).sum() == 1
    # identical first and last words are set aside before the discards (diff's identical ends)
    assert lcs_matched(["的", *gold, "z"], ["的", *test, "z"]).sum() == 2


def test_score_lines_counts_and_oov():
    gold = [["共同", "创造", "美好"], [], ["新", "世纪"]]
    test = [["共同", "创", "造", "美好"], ["x"], ["新世纪"]]
    counts = score_lines(gold, test, frozenset({"共同", "美好", "新"}))
    assert (counts.gold_words, counts.test_words, counts.recalled) == (
        5,
        5,
        2,
    )  # empty gold skipped
    assert counts.precision == counts.recall == pytest.approx(0.4)
    assert counts.oov_rate == pytest.approx(2 / 5)  # 创造, 世纪
    assert counts.oov_recall == 0.0 and counts.iv_recall == pytest.approx(2 / 3)
    plain = score_lines(gold, test)
    assert plain.oov_rate is None and "oov_rate" not in plain.as_dict()


def test_format_and_parse():
    assert format_segmented([["a", "b"], []], "  ") == "a  b\n\n"
    text = "=== F MEASURE:\t0.714\n=== OOV Recall Rate:\t--\n=== TOTAL TRUE WORD COUNT:\t12\n"
    assert parse_score_output(text) == {"word_f1": 0.714, "gold_words": 12.0}


def test_hand_worked_scores_follow_the_sighan_definition():
    """Per line the script pairs gold and test words (diff); a paired word is right. Summed over
    lines: P = right / test words, R = right / gold words, F = 2PR / (P + R) = 2 right / (gold +
    test); a gold word is OOV when the training word list lacks it, and OOV (IV) recall is the
    share of OOV (IV) gold words that are right. A line whose gold is empty is skipped."""
    gold = [
        ["共同", "创造", "美好", "的", "新", "世纪"],
        [],
        ["迈向", "充满", "希望"],
    ]
    test = [
        ["共同", "创造", "美", "好", "的", "新世纪"],  # right: 共同 创造 的 (3 of 6 test words)
        ["多余"],  # gold empty: not counted at all
        ["迈向", "充", "满", "希望"],  # right: 迈向 希望 (2 of 4)
    ]
    words = frozenset({"共同", "创造", "的", "新", "迈向", "希望"})
    counts = score_lines(gold, test, words)
    # gold words 6 + 3 = 9, test words 6 + 4 = 10, right 3 + 2 = 5
    assert (counts.gold_words, counts.test_words, counts.recalled) == (9, 10, 5)
    assert counts.precision == pytest.approx(5 / 10)
    assert counts.recall == pytest.approx(5 / 9)
    assert counts.f1 == pytest.approx(2 * 5 / (9 + 10))  # 0.5263
    # OOV gold words: 美好, 世纪, 充满 (3 of 9), none right; IV: 共同 创造 的 新 迈向 希望, right
    # all but 新 (5 of 6)
    assert counts.oov_rate == pytest.approx(3 / 9)
    assert counts.oov_recall == 0.0
    assert counts.iv_recall == pytest.approx(5 / 6)
    assert counts.as_dict()["predicted_words"] == 10


def test_a_word_is_right_when_diff_pairs_it_not_by_its_span():
    """gold 的|人的, test 的人|的: no test word has a gold word's character span, but the script
    pairs the test word 的 (characters 2-3) with the gold word 的 (characters 0-1): 1 right."""
    counts = score_lines([["的", "人的"]], [["的人", "的"]])
    assert counts.recalled == 1
    assert counts.precision == counts.recall == pytest.approx(1 / 2)
    # identical segmentations are right everywhere; an empty test line scores nothing
    assert score_lines([["中国", "人民"]], [["中国", "人民"]]).f1 == 1.0
    empty = score_lines([["中国", "人民"]], [[]])
    assert (empty.gold_words, empty.test_words, empty.recalled, empty.f1) == (2, 0, 0, 0.0)


def test_the_script_stops_at_the_shorter_file():
    counts = score_lines([["甲"], ["乙", "丙"]], [["甲"]])
    assert (counts.gold_words, counts.test_words, counts.recalled) == (1, 1, 1)


def test_read_segmented_lines_keeps_empty_lines(tmp_path):
    (tmp_path / "gold.txt").write_bytes("共同  创造\r\n\r\n新\u3000世纪\r\n".encode())
    assert read_segmented_lines(tmp_path / "gold.txt") == [["共同", "创造"], [], ["新", "世纪"]]
