"""SIGHAN scoring: the LCS kernel against its reference, counts on a hand example, and agreement
with the official Perl script itself (skipped where ../shared/tools/sighan is absent)."""

from __future__ import annotations

import itertools
import subprocess

import numpy as np
import pytest
from bitbench.sighan import (
    format_segmented,
    lcs_length_reference,
    lcs_matched,
    parse_score_output,
    read_word_list,
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


def random_segmentation(words: list[str], rng: np.random.Generator, p: float) -> list[str]:
    text = "".join(words)
    cuts = [0] + [i for i in range(1, len(text)) if rng.random() < p] + [len(text)]
    return [text[a:b] for a, b in itertools.pairwise(cuts)]


def test_agrees_with_the_official_script(sighan_scorer, tmp_path, shared_data):
    pku = shared_data / "cws_sighan2005_pku"
    gold_lines = (pku / "pku_test_gold.utf8").read_text(encoding="utf-8").split("\n")[:300]
    gold = [split_words(line) for line in gold_lines]
    dictionary = read_word_list(pku / "pku_training_words.utf8")
    (tmp_path / "gold.txt").write_text("\n".join(gold_lines).replace("\r", "") + "\n")
    rng = np.random.default_rng(0)
    for name, p in (("random", 0.5), ("sparse", 0.2), ("dense", 0.9)):
        test = [random_segmentation(words, rng, p) if words else [] for words in gold]
        (tmp_path / f"{name}.txt").write_text(format_segmented(test, "  "), encoding="utf-8")
        out = subprocess.run(
            ["perl", str(sighan_scorer), str(pku / "pku_training_words.utf8"),
             str(tmp_path / "gold.txt"), str(tmp_path / f"{name}.txt")],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        official = parse_score_output(out)
        ours = score_lines(gold, test, dictionary).as_dict()
        assert ours["gold_words"] == official["gold_words"]
        assert ours["predicted_words"] == official["predicted_words"]
        # the script prints 3 decimals; OOV/IV recall may differ by which of two equally long
        # alignments pairs a word (measured: <= 7 of 6,006 OOV words on the whole test set)
        for key in (
            "word_precision",
            "word_recall",
            "word_f1",
            "oov_rate",
            "oov_recall",
            "iv_recall",
        ):
            assert ours[key] == pytest.approx(official[key], abs=0.0015), (name, key)
