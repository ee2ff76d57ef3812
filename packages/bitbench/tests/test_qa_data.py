"""SQuAD-format files: what is read, what the real CMRC quirks become, bad input as one line;
the split by article never puts an article on both sides."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bitbench.errors import BitbenchError
from bitbench.qa.data import load_squad
from bitbench.qa.dataset import prepare_data
from bitbench.qa.split import examples, split_by_article, subsample

TINY = Path(__file__).parent / "data" / "qa_tiny.json"


def _write(path: Path, obj) -> str:
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False))
    return str(path)


def _squad(context: str, answers: list[dict], **extra) -> dict:
    qa = {"id": "x1", "question": "q?", "answers": answers, **extra}
    return {"data": [{"title": "t", "paragraphs": [{"context": context, "qas": [qa]}]}]}


def test_tiny_fixture_reads_whole():
    f = load_squad(TINY)
    assert len(f.articles) == 8 and f.num_questions == 26
    assert f.notes.to_dict() == {
        "utf16_offsets_converted": 0, "unlocated_answers_scored_only": 0, "dropped_questions": []
    }  # fmt: skip
    items = examples(f.articles)
    for ex in items:
        for gold in ex.answers:
            assert ex.context[gold.start : gold.end] == gold.text
    assert sum(ex.impossible for ex in items) == 1
    assert next(ex for ex in items if ex.impossible).gold_texts == [""]


def test_cmrc_quirks_are_repaired_or_named(tmp_path):
    # "𫚭" is one character but two UTF-16 code units: CMRC's offsets after it are one too far
    context = "线白𫚭，俗名龙尖，为辐鳍鱼纲"
    data = _squad(context, [{"text": "俗名龙尖", "answer_start": 5}])  # character offset: 4
    unlocated = {
        "id": "x2",
        "question": "q2?",
        "answers": [
            {"text": "不在这里", "answer_start": -1},
            {"text": "辐鳍鱼纲", "answer_start": 10},
        ],
    }
    lost = {"id": "x3", "question": "q3?", "answers": [{"text": "也不在", "answer_start": -1}]}
    data["data"][0]["paragraphs"][0]["qas"] += [unlocated, lost]  # fmt: skip
    f = load_squad(_write(tmp_path / "cmrc.json", data))
    assert f.notes.utf16_offsets == 1 and f.notes.unlocated_answers == 2
    assert f.notes.dropped_questions == ("x3",)
    q1, q2 = f.articles[0].paragraphs[0].questions
    assert q1.answers[0].start == 4 and context[4:8] == "俗名龙尖"
    assert q2.located.text == "辐鳍鱼纲" and q2.gold_texts == ["不在这里", "辐鳍鱼纲"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("{not json", "is not JSON (line 1"),
        ({"data": [{"paragraphs": [{"qas": []}]}]}, "has no str 'context'"),
        ([1, 2], "is not a SQuAD-format file"),
        (_squad("The cat sat.", [{"text": "cat", "answer_start": 0}]),
         "answer_start 0 does not point at its text 'cat'"),
        ({"data": []}, "holds no questions"),
        (_squad("The cat sat.", []), "has no answers and is not marked is_impossible"),
    ],
)  # fmt: skip
def test_bad_files_are_one_clear_line(tmp_path, content, message):
    path = _write(tmp_path / "bad.json", content)
    with pytest.raises(BitbenchError, match=re.escape(message)) as info:
        load_squad(path)
    assert "\n" not in str(info.value) and "bad.json" in str(info.value)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(BitbenchError, match="does not exist"):
        load_squad(tmp_path / "nope.json")


def test_split_is_by_article_and_deterministic():
    f = load_squad(TINY)
    split = split_by_article([f], test_fraction=0.25, seed=0)
    assert len(split.test) == 2 and len(split.train) == 6
    train_keys = {a.key for a in split.train}
    assert not train_keys & {a.key for a in split.test}
    train_ctx = {ex.context for ex in examples(split.train)}
    assert not train_ctx & {ex.context for ex in examples(split.test)}
    again = split_by_article([load_squad(TINY)], test_fraction=0.25, seed=0)
    assert [a.key for a in again.test] == [a.key for a in split.test]
    others = {tuple(a.key for a in split_by_article([f], seed=s).test) for s in range(6)}
    assert len(others) > 1  # the seed moves the split
    d = split.describe()
    assert d["test_articles"] == 2 and d["train_articles"] == 6 and "by article" in d["rule"]


def test_split_tests_only_on_the_last_file(tmp_path):
    first = load_squad(TINY)
    raw = json.loads(TINY.read_text())
    for article in raw["data"]:  # other contexts (the answers keep their offsets)
        for par in article["paragraphs"]:
            par["context"] += " (2)"
    second = load_squad(_write(tmp_path / "dev.json", raw))
    split = split_by_article([first, second], test_fraction=0.5, seed=1)
    assert {a.source for a in split.test} == {"dev.json"} and len(split.test) == 4
    assert sum(a.source == "qa_tiny.json" for a in split.train) == 8
    with pytest.raises(BitbenchError, match="both a training and a test article"):
        split_by_article([load_squad(tmp_path / "dev.json"), second], test_fraction=0.5)
    with pytest.raises(BitbenchError, match="no training questions"):
        split_by_article([first], test_fraction=1.0)


def test_subsample_and_prepare(tmp_path):
    items = examples(load_squad(TINY).articles)
    picked = subsample(items, 5, seed=0)
    assert len(picked) == 5 and picked == subsample(items, 5, seed=0)
    assert [items.index(x) for x in picked] == sorted(items.index(x) for x in picked)
    data = prepare_data([str(TINY)], test_fraction=0.25, seed=0, max_questions=None,
                        train_questions=4, no_answer=False)  # fmt: skip
    assert len(data.train) == 4 and not any(ex.impossible for ex in data.train + data.test)
    assert data.left_out["unanswerable (use --no-answer to ask them)"] == 1
    assert data.max_answer_bytes >= 16 and data.floor_units >= 1
    chinese = _write(tmp_path / "zh.json", {"data": json.loads(TINY.read_text())["data"][4:]})
    with pytest.raises(
        BitbenchError, match="the files have none"
    ):  # no unanswerable question to ask
        prepare_data([chinese], test_fraction=0.25, seed=0, max_questions=None,
                     train_questions=None, no_answer=True)  # fmt: skip


def test_real_files_split_as_the_issue_says(shared_data):
    squad = prepare_data([str(shared_data / "qa_squad2" / "dev-v2.0.json")], test_fraction=0.25,
                         seed=0, max_questions=None, train_questions=None, no_answer=True)  # fmt: skip
    assert squad.split.describe()["train_articles"] == 12 and len(squad.split.test) == 4
    assert squad.metric == "squad"
    d = shared_data / "qa_cmrc2018"
    cmrc = prepare_data([str(d / "cmrc2018_trial.json"), str(d / "cmrc2018_dev.json")],
                        test_fraction=0.25, seed=0, max_questions=None, train_questions=None,
                        no_answer=False)  # fmt: skip
    assert cmrc.metric == "cmrc" and len(cmrc.split.test) == 212
    assert {a.source for a in cmrc.split.test} == {"cmrc2018_dev.json"}
    notes = {f.path.rsplit("/", 1)[-1]: f.notes for f in cmrc.files}
    assert notes["cmrc2018_dev.json"].unlocated_answers == 193
    assert notes["cmrc2018_dev.json"].utf16_offsets == 7
    assert notes["cmrc2018_trial.json"].utf16_offsets == 5
    assert notes["cmrc2018_dev.json"].dropped_questions == ()  # each has a located answer
