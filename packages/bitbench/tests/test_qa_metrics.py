"""The official QA metrics on hand-made cases; every expected score was worked out by hand (the
arithmetic is in the comments)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from bitbench.errors import BitbenchError
from bitbench.qa.floors import first_answer, floor_answers, window_answer
from bitbench.qa.metrics import (
    cmrc_em,
    cmrc_f1,
    cmrc_units,
    longest_common_run,
    metric_for,
    score_predictions,
    squad_em,
    squad_f1,
    squad_normalize,
)


def test_squad_normalisation():
    # lower case, punctuation removed, articles removed as words, whitespace collapsed
    assert squad_normalize("  The Eiffel   Tower! ") == "eiffel tower"
    assert squad_normalize("An apple, a pear") == "apple pear"
    assert squad_normalize("theatre") == "theatre"  # "the" only as a whole word
    assert squad_normalize("the") == ""


def test_squad_exact_and_f1_by_hand():
    assert squad_em("The Eiffel Tower!", ["eiffel tower"]) == 1.0
    assert squad_f1("The Eiffel Tower!", ["eiffel tower"]) == 1.0
    # pred [in, paris, france] vs gold [paris]: 1 shared; P = 1/3, R = 1/1
    # F1 = 2 * 1/3 * 1 / (1/3 + 1) = (2/3) / (4/3) = 0.5
    assert squad_em("in Paris, France", ["Paris"]) == 0.0
    assert squad_f1("in Paris, France", ["Paris"]) == pytest.approx(0.5)
    # bag overlap counts repeats: pred [cat, cat, cat] ("the" dropped) vs gold [cat, cat]:
    # shared min(3, 2) = 2; P = 2/3, R = 2/2; F1 = 2 * 2/3 / (2/3 + 1) = (4/3) / (5/3) = 0.8
    assert squad_f1("the the cat cat cat", ["cat cat"]) == pytest.approx(0.8)


def test_squad_max_over_gold_answers():
    # pred [big, red, dog]; gold 1 [red, dog]: 2 shared, P = 2/3, R = 1, F1 = (4/3)/(5/3) = 0.8
    # gold 2 [big, dog, barks]: 2 shared, P = R = 2/3, F1 = 2/3; max = 0.8
    assert squad_f1("a big red dog", ["red dog", "the big dog barks"]) == pytest.approx(0.8)
    assert squad_em("a big red dog", ["red dog", "Big red dog."]) == 1.0


def test_squad_no_answer_scores_only_the_empty_prediction():
    assert squad_em("", [""]) == squad_f1("", [""]) == 1.0
    assert squad_em("the", [""]) == 1.0  # normalises to nothing
    assert squad_em("Paris", [""]) == squad_f1("Paris", [""]) == 0.0
    assert squad_f1("", ["Paris"]) == 0.0


def test_squad_aggregates_has_ans_and_no_ans():
    golds = {"a": ["Paris"], "b": ["Paris"], "c": [""], "d": ["Rome"]}
    impossible = {"a": False, "b": False, "c": True, "d": False}
    preds = {"a": "paris", "b": "in Paris, France", "c": ""}  # d: no prediction -> 0
    r = score_predictions(preds, golds, impossible, "squad")
    # EM: a 1, b 0, c 1, d 0 -> 2/4 = 50%; F1: a 1, b 0.5, c 1, d 0 -> 2.5/4 = 62.5%
    assert r["exact"] == pytest.approx(50.0) and r["f1"] == pytest.approx(62.5) and r["n"] == 4
    # HasAns (a, b, d): EM 1/3 = 33.33%, F1 1.5/3 = 50%; NoAns (c): 100 / 100
    assert r["has_ans_exact"] == pytest.approx(100 / 3) and r["has_ans_f1"] == pytest.approx(50)
    assert r["has_ans_n"] == 3 and r["no_ans_n"] == 1
    assert r["no_ans_exact"] == r["no_ans_f1"] == 100.0
    assert "no_ans_n" not in score_predictions({}, {"a": ["x"]}, {"a": False}, "squad")


def test_cmrc_units():
    # CJK characters one by one, other runs whole and lower-cased, punctuation dropped
    assert cmrc_units("北京大学（PKU）2020年") == ["北", "京", "大", "学", "pku", "2020", "年"]
    assert cmrc_units("Hawkswell剧院") == ["hawkswell", "剧", "院"]
    assert cmrc_units("《红楼梦》。") == ["红", "楼", "梦"]
    assert cmrc_units("𠀀字") == ["𠀀", "字"]  # an ideograph outside the BMP is one unit too


def test_cmrc_exact_and_f1_by_hand():
    assert cmrc_em("《红楼梦》", ["红楼梦"]) == 1.0  # punctuation removed
    # pred [北,京,大,学,的,校,长] (7) vs gold [北,京,大,学] (4): longest common run 4
    # P = 4/7, R = 4/4; F1 = 2 * 4/7 / (4/7 + 1) = (8/7) / (11/7) = 8/11
    assert cmrc_em("北京大学的校长", ["北京大学"]) == 0.0
    assert cmrc_f1("北京大学的校长", ["北京大学"]) == pytest.approx(8 / 11)
    # contiguous, not a subsequence: pred [北,大,学], gold [北,京,大,学]: longest run [大,学] = 2
    # P = 2/3, R = 2/4; F1 = 2 * (2/3)(1/2) / (2/3 + 1/2) = (2/3) / (7/6) = 4/7
    assert longest_common_run(["北", "大", "学"], ["北", "京", "大", "学"]) == 2
    assert cmrc_f1("北大学", ["北京大学"]) == pytest.approx(4 / 7)


def test_cmrc_max_over_gold_answers():
    # pred [1998, 年, 7, 月] (4); gold [7, 月]: run 2, P = 2/4, R = 1, F1 = 1 / 1.5 = 2/3;
    # gold [1998]: run 1, P = 1/4, R = 1, F1 = 0.5 / 1.25 = 0.4; max = 2/3
    assert cmrc_f1("1998年7月", ["7月", "1998"]) == pytest.approx(2 / 3)
    r = score_predictions({"x": "1998年7月"}, {"x": ["7月", "1998"]}, {}, "cmrc")
    assert r["f1"] == pytest.approx(200 / 3) and r["exact"] == 0.0


def test_metric_choice_and_errors():
    assert metric_for(["长城是中国古代的军事防御工程"]) == "cmrc"
    assert metric_for(["The Thames flows through London."]) == "squad"
    with pytest.raises(BitbenchError, match="unknown"):
        score_predictions({}, {"a": ["x"]}, {}, "bleu")
    with pytest.raises(BitbenchError, match="without gold"):
        squad_f1("x", [])


def test_floors_by_hand():
    # units 0-9 "a0".."a9", 10 x, 11 y, 12-13 the answer, 14-19 "b1".."b6", 20 z; n = 2.
    # x, y, z occur once: weight log 2 each. The candidate at 12 has x, y within 8 units on its
    # left and z within 8 on its right: 3 log 2, nothing inside. No candidate before it
    # reaches z (it needs i + 2 + 8 > 20), the later ones at best tie: the earliest wins.
    context = " ".join([f"a{i}" for i in range(10)] + ["x", "y", "Ans1", "ans2"]
                       + [f"b{i}" for i in range(1, 7)] + ["z."])  # fmt: skip
    assert window_answer("x y z?", context, 2, "squad") == "Ans1 ans2"
    assert first_answer(context, 3, "squad") == "a0 a1 a2"
    # CMRC units: 长 城 东 起 山 海 关 (punctuation is no unit); question units 长 城 东 起:
    # the candidate 山海 has 长城东起 on its left (4 log 2) and nothing of them inside
    assert window_answer("长城东起哪里？", "长城东起，山海关。", 2, "cmrc") == "山海"
    assert first_answer("《长城》东起", 2, "cmrc") == "长城"
    answers = floor_answers([], 2, "squad", no_answer=True)
    assert set(answers) == {"window", "first", "empty"}


TIE_PROGRAM = """
from bitbench.qa.floors import window_answer
fill = lambda tag, n: [f"{tag}{i}" for i in range(n)]
# p, s occur once (weight log 2), q twice (log 1.5), r three times (log 4/3): the candidate X1 X2
# has p q r on its left, the candidates around s q r have s q r: mathematically equal scores
words = ["p", "q", "r", "X1", "X2"] + fill("f", 24) + ["s", "q", "r", "Y1", "Y2"] + fill("g", 24) + ["r"]
print(window_answer("p q r s?", " ".join(words), 2, "squad"))
"""


def test_window_floor_ties_are_the_same_in_every_process():
    # the sum of question-word weights must not depend on the order a set of strings iterates
    # in (string hashes differ per process): exact ties go to the earliest candidate everywhere
    answers = set()
    for hash_seed in ("0", "1", "2", "5"):  # 1 and 5 broke the tie before fsum
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", TIE_PROGRAM], env=env, capture_output=True, text=True, check=True
        )
        answers.add(out.stdout.strip())
    assert answers == {"X1 X2"}
