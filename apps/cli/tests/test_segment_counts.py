"""`bitlab segment --signal counts`: no run, statistics from --corpus (text file or store) and the
text itself, scored with --gold; and the one-line refusals of what it would not read."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from bitlab.main import invoke

VOCAB = ["中国", "人民", "发展", "经济", "世界", "和平", "合作", "友好"]


@pytest.fixture(scope="module")
def texts(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("counts")
    rng = np.random.default_rng(1)
    gold = ["  ".join(rng.choice(VOCAB, size=int(rng.integers(4, 12)))) for _ in range(240)]
    (root / "more.txt").write_text("\n".join(g.replace(" ", "") for g in gold[:200]) + "\n")
    (root / "test.txt").write_text("\n".join(g.replace(" ", "") for g in gold[200:]) + "\n")
    (root / "gold.txt").write_text("\r\n".join(gold[200:]) + "\r\n", encoding="utf-8")
    (root / "words.txt").write_text("\n".join(VOCAB[:6]) + "\n", encoding="utf-8")
    return {"root": root, "more": root / "more.txt", "test": root / "test.txt",
            "gold": root / "gold.txt", "words": root / "words.txt"}  # fmt: skip


def test_counts_segment_without_a_run(texts, capsys):
    out = texts["root"] / "seg.txt"
    argv = ["segment", "--signal", "counts", "--corpus", str(texts["more"]), "--file",
            str(texts["test"]), "--unit-bytes", "6", "--sep", "  "]  # fmt: skip
    assert invoke([*argv, "--out", str(out), "--gold", str(texts["gold"]), "--dict",
                   str(texts["words"]), "--json"]) == 0  # fmt: skip
    scores = json.loads(capsys.readouterr().out)["scores"]
    assert scores["word_f1"] == 1.0  # every word is a frequent pair: counting finds them all
    assert scores["oov_recall"] == 1.0 and 0 < scores["oov_rate"] < 1  # 合作, 友好 unlisted
    assert out.read_text(encoding="utf-8") == texts["gold"].read_text().replace("\r", "")
    assert invoke(argv) == 0  # stdout: the segmented lines, nothing else
    assert capsys.readouterr().out == out.read_text(encoding="utf-8")


def test_counts_from_a_corpus_store(texts, capsys):
    assert invoke(["prepare-corpus", str(texts["more"]), "--split-on", "line", "--val-fraction",
                   "0.1", "--out", str(texts["root"] / "more.zarr")]) == 0  # fmt: skip
    capsys.readouterr()
    assert invoke(["segment", "--signal", "counts", "--corpus", str(texts["root"] / "more.zarr"),
                   "--file", str(texts["test"]), "--unit-bytes", "6", "--gold", str(texts["gold"]),
                   "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["scores"]["word_f1"] == 1.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--signal", "head"], "--signal head reads a model: give a run directory"),
        (["--signal", "counts", "RUNDIR"], "--signal counts reads no model: leave out the run"),
        (["--signal", "pmi", "RUNDIR", "--corpus", "MORE"], "--corpus is raw text for --signal"),
        (["--signal", "counts", "--dict", "WORDS"], "--dict is the training word list for --gold"),
        (["--signal", "counts", "--gold", "MORE"], "has 200 lines, the text to segment 40"),
        (["--signal", "count"], "--signal 'count': unknown signal 'count'"),
        (["--signal", "counts+half*pmi"], "the weight of 'half\\*pmi' is not a number"),
        (["--signal", "counts", "--corpus", "MISSING"], "--corpus text '.*missing.txt' does not"),
    ],
)
def test_refusals_are_one_line(texts, capsys, extra, message):
    names = {"RUNDIR": str(texts["root"]), "MORE": str(texts["more"]),
             "WORDS": str(texts["words"]), "MISSING": str(texts["root"] / "missing.txt")}  # fmt: skip
    argv = ["segment", "--file", str(texts["test"]), *[names.get(w, w) for w in extra]]
    assert invoke(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.search(message, err), err
