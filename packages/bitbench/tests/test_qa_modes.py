"""The QA modes end to end on micro models of every kind: the probe learns what a linear head
can learn, every kind answers the same questions from the same windows, the cloze fills exactly
the answer's bytes (or tokens), fine-tuning trains a copy, and the outputs are written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from bitbaselines import BpeMLM, BpeMLMConfig, ByteMLM
from bitbaselines.bpe import encode_pieces, train_reference_bpe
from bitbaselines.config import ByteMLMConfig
from bitbench.qa.cloze import ClozeInput, answer_text, cloze_answers, fill_batch
from bitbench.qa.data import load_squad
from bitbench.qa.dataset import prepare_data
from bitbench.qa.finetune import FinetuneSettings
from bitbench.qa.report import write_qa_outputs
from bitbench.qa.run import QASettings, run_model, run_qa
from bitbench.qa.split import examples
from bitbench.qa.windows import WindowSettings
from bitswin import BitSwinConfig, BitSwinModel
from bittrain.tasks.baseline_eval import BpeEvalModel, ByteEvalModel
from bittrain.tasks.bitswin_eval import BitSwinEval

TINY = Path(__file__).parent / "data" / "qa_tiny.json"
WINDOWS = WindowSettings(length=112, stride=24, max_question_bytes=48)
QUICK = QASettings(modes=("probe", "cloze"), windows=WINDOWS, probe_iterations=20, cloze_steps=2)


def _data(path=TINY, **kw):
    args = {"test_fraction": 0.25, "seed": 0, "max_questions": None, "train_questions": None,
            "no_answer": False} | kw  # fmt: skip
    return prepare_data([str(path)], **args)


@pytest.fixture(scope="module")
def tokenizer():
    texts = [ex.context.encode() for ex in examples(load_squad(TINY).articles)]
    return train_reference_bpe(texts, vocab_size=300)


def micro(kind: str, tokenizer=None):
    """A loader of a micro model of ``kind`` (fresh weights, seed 0, on every call)."""

    def load():
        torch.manual_seed(0)
        if kind == "bitswin":
            config = BitSwinConfig.tiny(depths=(1, 1, 1, 1), widths=(16, 32, 32, 32),
                                        heads=(2, 2, 2, 2))  # fmt: skip
            return BitSwinEval(BitSwinModel(config))
        if kind == "byte":
            return ByteEvalModel(
                ByteMLM(ByteMLMConfig(d_model=16, n_layers=1, n_heads=2, window=8))
            )
        sizes = {"d_model": 16, "n_layers": 1, "n_heads": 2, "vocab_size": 300}
        if kind == "bpe":
            return BpeEvalModel(BpeMLM(BpeMLMConfig(**sizes)), tokenizer)
        from bitbaselines.hf_bert import HfBertConfig, bert_config, bitbench_bert
        from bittrain.tasks.hf_eval import HfEvalModel

        model = bitbench_bert(bert_config(HfBertConfig(**sizes)))
        return HfEvalModel.bitbench(model, tokenizer, 3.0, "cpu")

    return load


def _synthetic(path: Path) -> Path:
    """12 articles of 4 paragraphs: 14 lower-case words and one capital letter, the answer."""
    rng = np.random.default_rng(0)
    words = ["river", "stone", "mill", "bread", "cloud", "window", "garden", "letter"]
    data = []
    for a in range(12):
        pars = []
        for p in range(4):
            ws = [str(w) for w in rng.choice(words, size=14)]
            mark = str(rng.choice(list("QXZJ")))
            ws.insert(int(rng.integers(2, 12)), mark)
            ctx = " ".join(ws) + "."
            start = ctx.index(f" {mark} ") + 1
            pars.append({"context": ctx, "qas": [{"id": f"{a}-{p}", "question": "which mark?",
                         "answers": [{"text": mark, "answer_start": start}]}]})  # fmt: skip
        data.append({"title": f"a{a}", "paragraphs": pars})
    path.write_text(json.dumps({"data": data}))
    return path


@pytest.mark.parametrize("kind", ["byte", "bitswin"])
def test_probe_learns_what_a_linear_head_can(tmp_path, kind):
    # The answer is the context's one capital letter: a byte's own identity tells it, so a
    # linear head on frozen (even untrained) states finds it; string matching cannot.
    data = _data(_synthetic(tmp_path / "marks.json"))
    settings = QASettings(modes=("probe",), windows=WINDOWS, probe_iterations=30)
    result = run_qa([(kind, micro(kind))], data, settings)
    probe = result["runs"][0]["modes"]["probe"]
    assert probe["n"] == 12 and probe["exact"] == 100.0
    assert result["floors"]["window"]["exact"] == 0.0


def test_every_kind_answers_the_same_questions_from_the_same_windows(tokenizer, tmp_path):
    pytest.importorskip("transformers")
    data = _data()
    kinds = ("bitswin", "byte", "bpe", "hf-bert")
    result = run_qa([(k, micro(k, tokenizer)) for k in kinds], data, QUICK)
    contexts = {ex.qid: ex.context for ex in data.test}
    answers = {ex.qid: ex.located.text for ex in data.test}
    for run in result["runs"]:
        assert run["kind"] == run["run"] and list(run["modes"]) == ["probe", "cloze"]
        for mode, r in run["modes"].items():
            assert r["n"] == len(data.test) and set(r["predictions"]) == set(contexts)
            assert 0 <= r["f1"] <= 100 and r["seconds"] >= 0
            for qid, text in r["predictions"].items():
                if mode == "cloze" and run["kind"] in ("bitswin", "byte"):
                    # a known-length cloze: exactly as many bytes as the answer
                    assert len(text.encode()) == len(answers[qid].encode()) or "\ufffd" in text
                elif mode != "cloze":
                    assert text in contexts[qid]  # exact context characters
    windows = {r["modes"]["probe"]["test_windows"] for r in result["runs"]}
    assert len(windows) == 1  # the windows are the text's, not the model's
    written = write_qa_outputs(result, tmp_path / "out")
    saved = json.loads(written["qa.json"].read_text())
    assert saved["data"]["split"]["test_articles"] == 2 and len(saved["runs"]) == 4
    report = written["report.md"].read_text()
    assert "known-length cloze" in report and "floor: window" in report
    assert report.count("| hf-bert |") == 2 and "by article" in report
    assert written["qa_f1_by_length.png"].stat().st_size > 1000


def test_cloze_fills_exactly_the_answer_bytes_and_tokens(tokenizer):
    data = _data()
    contexts = data.contexts(data.test)
    byte = micro("byte")().span_encoder()

    class BytePrefersX:  # a byte model that always says "x": shows where the holes were
        unit, pad_id, layout = "byte", byte.pad_id, byte.layout

        def mask_log_probs(self, ids, pad, hidden):
            assert not (ids[hidden] != 0).any()  # the answer's bytes never reach the model
            logp = torch.full((*ids.shape, 256), -20.0)
            logp[..., ord("x")] = 0.0
            return logp

    filled = cloze_answers(BytePrefersX(), data.test, contexts, WINDOWS, steps=2, batch_size=3)
    assert filled == ["x" * len(ex.located.text.encode()) for ex in data.test]

    bpe = micro("bpe", tokenizer)().span_encoder()
    x_id = int(encode_pieces(tokenizer, [b"x"])[0][0])

    class TokenPrefersX:
        unit, pad_id, mask_id = "token", bpe.pad_id, bpe.mask_id
        cloze_ids, token_bytes = bpe.cloze_ids, bpe.token_bytes

        def mask_logits(self, ids, pad, select):
            logits = torch.zeros(int(select.sum()), 300)
            logits[:, x_id] = 5.0
            return logits

    filled = cloze_answers(TokenPrefersX(), data.test, contexts, WINDOWS, steps=3, batch_size=3)
    tokens = [len(encode_pieces(tokenizer, [ex.located.text.encode()])[0]) for ex in data.test]
    assert filled == ["x" * n for n in tokens]  # one [MASK] per answer token


def test_token_fill_commits_the_most_confident_first():
    class Fake:
        unit, pad_id, mask_id = "token", 0, 1

        def __init__(self) -> None:
            self.calls: list[list[int]] = []

        def mask_logits(self, ids, pad, select):
            self.calls.append(select.sum(dim=1).tolist())
            rows = int(select.sum())
            logits = torch.full((rows, 6), -9.0)
            logits[:, 4] = torch.arange(rows, dtype=torch.float32)  # later holes more confident
            logits[:, 1] = 50.0  # [MASK]: stands for no bytes, never chosen
            return logits

        def token_bytes(self, i):
            return b"" if i < 2 else bytes([96 + i])

        def cloze_ids(self, pieces, hide):
            raise AssertionError("not called")

    fake = Fake()
    holes = np.array([False, False, True, True, True, False])
    item = ClozeInput(np.array([2, 3, 0, 0, 0, 3]), holes.copy(), holes)
    short = ClozeInput(np.array([5, 0]), np.array([False, True]), np.array([False, True]))
    fill_batch(fake, [item, short], steps=2)
    # round 1: both rows (3 + 1 holes); item commits ceil(3/2) = 2, short its only one (1 round)
    # round 2: only item, its last hole
    assert fake.calls == [[3, 1], [1]]
    assert answer_text(fake, item) == "ddd" and answer_text(fake, short) == "d"


@pytest.mark.parametrize("kind", ["bitswin", "bpe"])
def test_finetune_trains_its_own_copy_and_no_answer_is_scored(tokenizer, kind):
    loads = []

    def load():
        model = micro(kind, tokenizer)()
        loads.append(model)
        return model

    # a seed whose test articles hold the fixture's unanswerable question
    seed = next(s for s in range(50) if any(ex.impossible for ex in
                _data(seed=s, no_answer=True, max_questions=8).test))  # fmt: skip
    data = _data(seed=seed, no_answer=True, max_questions=8)
    settings = QASettings(modes=("probe", "finetune"), windows=WINDOWS, probe_iterations=10,
                          finetune=FinetuneSettings(epochs=1, batch_size=8), seed=seed)  # fmt: skip
    result = run_model(load, data, settings)
    assert len(loads) == 2  # the fine-tuned model is a second one
    fresh = micro(kind, tokenizer)().model.state_dict()
    assert all(torch.equal(v, fresh[k]) for k, v in loads[0].model.state_dict().items())
    assert not all(torch.equal(v, fresh[k]) for k, v in loads[1].model.state_dict().items())
    for r in result["modes"].values():
        assert r["no_ans_n"] >= 1 and r["has_ans_n"] + r["no_ans_n"] == r["n"]
