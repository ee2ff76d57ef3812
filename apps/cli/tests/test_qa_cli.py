"""`bitlab qa`: micro runs trained by the real trainer, several runs in one call, the written
files, --json, and bad input as one line."""

from __future__ import annotations

import json

import pytest
from bitlab.main import invoke
from bittrain.fixtures import MICRO_MODEL, write_sample_corpus

TRAIN = ["--set", "max_steps=2", "--set", "eval_every=0", "--set", "eval_windows=2",
         "--set", "batch_size=2", "--set", "seq_len=32", "--set", "checkpoint_every=100",
         "--no-progress"]  # fmt: skip
BYTE = ["--set", "model.d_model=16", "--set", "model.n_heads=2", "--set", "model.n_layers=1",
        "--set", "model.window=8"]  # fmt: skip
ARTICLES = [
    ("Thames", "The Thames flows through London and reaches the North Sea after 346 kilometres.",
     [("t1", "How long is the Thames?", "346 kilometres"), ("t2", "Which sea?", "the North Sea")]),
    ("Café", "The first café in Paris opened in 1672 and sold coffee from Armenia.",
     [("c1", "When did it open?", "1672"), ("c2", "Where was the coffee from?", "Armenia")]),
    ("长城", "长城东起山海关，西至嘉峪关，全长约两万一千公里。",
     [("g1", "长城东起哪里？", "山海关"), ("g2", "长城西至哪里？", "嘉峪关")]),
    ("茶", "唐代陆羽写成《茶经》，被后人称为“茶圣”。",
     [("h1", "谁写了《茶经》？", "陆羽"), ("h2", "陆羽被称为什么？", "茶圣")]),
]  # fmt: skip


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("qa")
    corpus = write_sample_corpus(root / "c.zarr", n_docs=40)
    flags = [x for item in MICRO_MODEL for x in ("--set", item)]
    assert invoke(["train", "--corpus", str(corpus), "--out", str(root / "sw"), *TRAIN,
                   *flags]) == 0  # fmt: skip
    assert invoke(["baseline", "train", "--kind", "byte", "--corpus", str(corpus), "--out",
                   str(root / "byte"), *TRAIN, *BYTE]) == 0  # fmt: skip
    data = [{"title": title, "paragraphs": [{"context": ctx, "qas": [
        {"id": qid, "question": q, "answers": [{"text": a, "answer_start": ctx.index(a)}]}
        for qid, q, a in qas]}]} for title, ctx, qas in ARTICLES]  # fmt: skip
    (root / "tiny.json").write_text(json.dumps({"data": data}, ensure_ascii=False))
    return root


def test_qa_two_runs_every_mode_writes_outputs(lab, capsys):
    out = lab / "out"
    capsys.readouterr()
    code = invoke(["qa", str(lab / "sw"), str(lab / "byte"), "--data", str(lab / "tiny.json"),
                   "--mode", "probe", "--mode", "cloze", "--window", "80",
                   "--max-question-bytes", "32", "--stride", "8",
                   "--test-fraction", "0.5", "--device", "cpu", "--out", str(out), "--json"])  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "qa.json").read_text())
    assert [r["kind"] for r in saved["runs"]] == ["bitswin", "byte"]
    for run in printed["runs"]:
        assert set(run["modes"]) == {"probe", "cloze"}
        assert all(r["n"] == 4 and "predictions" not in r for r in run["modes"].values())
    assert all(len(r["modes"]["probe"]["predictions"]) == 4 for r in saved["runs"])
    assert saved["data"]["split"]["test_articles"] == 2
    assert saved["command"].startswith("bitlab qa ") and "--window 80" in saved["command"]
    assert (out / "report.md").read_text().count("| floor: ") == 2
    assert (out / "qa_f1_by_length.png").stat().st_size > 1000


def test_qa_rich_table_and_default_out(lab, capsys):
    capsys.readouterr()
    assert invoke(["qa", str(lab / "byte"), "--data", str(lab / "tiny.json"), "--window", "80",
                   "--max-question-bytes", "32", "--stride", "8", "--test-fraction", "0.5",
                   "--max-questions", "3", "--device", "cpu"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "floor F1" in text and "probe" in text and "CMRC metric" in text
    saved = json.loads((lab / "byte" / "qa" / "tiny" / "qa.json").read_text())
    assert (
        saved["data"]["test_questions_used"] == 3 and saved["runs"][0]["modes"]["probe"]["n"] == 3
    )


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bitlab: error:"), err
    return err[0]


def test_qa_errors_are_one_line(lab, tmp_path, capsys):
    run, data = str(lab / "byte"), str(lab / "tiny.json")
    (tmp_path / "bad.json").write_text('{"data": [{"paragraphs": [{"qas": []}]}]}')
    assert invoke(["qa", run, "--data", str(tmp_path / "bad.json")]) == 2
    assert "not a SQuAD-format file" in _one_error_line(capsys)
    assert invoke(["qa", run, run, "--data", data]) == 2
    assert "--out" in _one_error_line(capsys)
    assert invoke(["qa", run, "--data", data, "--mode", "generate"]) == 2
    assert "--mode generate is unknown" in _one_error_line(capsys)
    assert invoke(["qa", str(tmp_path), "--data", data]) == 2
    assert "model/config.json" in _one_error_line(capsys)
    assert not (lab / "byte" / "qa" / "bad").exists()
