"""End to end: a tiny corpus and a tiny random bitswin run dir built by hand, then evaluate_run,
the written files, gold-segmented boundaries, compare (with its cache) and load_run's errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from bitbench.compare import compare_runs, write_compare
from bitbench.errors import BitbenchError
from bitbench.evaluate import EvalSettings, evaluate_run, write_outputs
from bitswin import BitSwinModel
from bittrain.errors import BittrainError
from bittrain.runs import inspect_run, load_run, read_metrics_log
from bittrain.tasks.bitswin_eval import BitSwinEval
from bittrain.tasks.bitswin_levels import eval_masks

WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "and",
    "dog",
    "ran",
    "to",
    "see",
    "big",
    "red",
    "sun",
    "over",
    "hill",
]
SMALL = EvalSettings(windows=4, seq_len=64, text_bytes=3000, table_windows=4)


def make_corpus(path: Path, docs: int = 160, seed: int = 0) -> Path:
    from bitcodec.corpus_writer import CorpusWriter

    rng = np.random.default_rng(seed)
    with CorpusWriter(path, val_fraction=0.3) as writer:
        for _ in range(docs):
            sentence = " ".join(rng.choice(WORDS, size=int(rng.integers(8, 20))))
            writer.add((sentence.capitalize() + ".").encode())
    return path


def make_run(path: Path, *, seed: int = 0, steps: int = 10) -> Path:
    import torch
    from bitswin import BitSwinConfig, BitSwinModel

    torch.manual_seed(seed)
    config = BitSwinConfig.tiny(depths=(1, 1, 1, 1), widths=(16, 32, 32, 32), heads=(2, 2, 2, 2))
    BitSwinModel(config).save_pretrained(path / "model")
    rows = [
        {"kind": "train", "step": s, "acc_bit": 0.5 + s / 100, "acc_byte": s / 50}
        for s in range(1, steps + 1)
    ]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "config.toml").write_text(
        "batch_size = 4\nseq_len = 64\n[masks]\ntarget_unit_bytes = 4.0\n"
    )
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lab")
    return {"corpus": make_corpus(root / "c.zarr"), "run": make_run(root / "run"), "root": root}


def test_evaluate_run_whitespace_gold(lab):
    ev = evaluate_run(lab["run"], corpus=lab["corpus"], settings=SMALL)
    m = ev.metrics
    assert m["kind"] == "bitswin" and m["num_params"] > m["lookup_params"] > 0
    assert 4.0 < m["bpb"] < 12.0  # a random model is near 8 bits per byte
    assert m["masked_bytes"] > 0
    for key in ("acc_bit", "acc_byte", "acc_word", "acc_phrase"):
        assert 0.0 <= m[key] <= 1.0
    assert 0.0 <= m["boundary_f1"] <= 1.0 and m["boundary_gold"] == "whitespace"
    # a model with units of its own is scored on its router's starts, not on a fitted cut
    assert m["boundary_rule"] == "model units" and m["boundary_threshold"] == 0.5
    assert m["consistency_auc"] is None or 0.0 <= m["consistency_auc"] <= 1.0
    assert m["table"]["source"] == "grown"
    levels = m["table"]["levels"]
    assert [row["level"] for row in levels] == [1, 2, 3, 4]
    assert all(row["table"]["roundtrip_exact"] for row in levels)
    assert set(m["compression"]) == {"num_bytes", "gzip", "xz", "zstd"}
    assert m["flops_per_byte"] > 0
    t = m["training"]
    assert (t["steps"], t["batch_size"], t["seq_len"]) == (10, 4, 64)
    # Not logged by this fake run: reconstructed from the evaluation's own per-byte cost (a
    # bitswin forward costs what it ran: its distinct bit patterns and unit slots).
    assert t["train_flops"] == pytest.approx(10 * 4 * 64 * 3 * m["flops_per_byte"])

    paths = write_outputs(ev, lab["root"] / "out", "bitlab eval run")
    metrics = json.loads((lab["root"] / "out" / "metrics.json").read_text())  # strict JSON
    assert metrics["command"] == "bitlab eval run"
    report = (lab["root"] / "out" / "report.md").read_text()
    assert "| `bpb` |" in report and "bitlab eval run" in report
    for name in ("accuracy_over_training", "boundary_view", "table_rank_frequency"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_gold_segmented_file(lab, tmp_path):
    gold = tmp_path / "gold.txt"
    gold.write_text("共同  创造 美好 的 新 世纪\n\nthe cat sat\n", encoding="utf-8")
    words = tmp_path / "words.txt"
    words.write_text("共同\n美好\n的\n", encoding="utf-8")
    ev = evaluate_run(lab["run"], gold_seg=gold, settings=SMALL, word_list=words)
    m = ev.metrics
    assert m["boundary_gold"] == "segmented"
    assert m["bpb"] is None and m["table"] is None  # no corpus given
    for key in (
        "boundary_precision", "boundary_recall", "boundary_f1", "word_precision", "word_f1",
        "oov_recall", "iv_recall",
    ):  # fmt: skip
        assert 0.0 <= m[key] <= 1.0
    assert m["oov_rate"] == pytest.approx(6 / 9)  # 创造 新 世纪 the cat sat are not in the list
    assert m["gold_words"] == 9 and m["segmenter"]["method"] == "dp"
    sentences = ev.plot_data["boundary_sample"]["sentences"]
    assert sentences[0]["chars"][:2] == ["共", "同"] and len(sentences[0]["gold"]) == 10
    # rules off and a centre below every score: a word starts at every character: recall 1
    low = EvalSettings(**{**SMALL.as_dict(), "threshold": -1e9, "rules": "none"})
    m2 = evaluate_run(lab["run"], gold_seg=gold, settings=low).metrics
    assert m2["boundary_recall"] == 1.0
    # 共同创造美好的新世纪 (10 characters, 6 words) + thecatsat (9, 3 words): 5 + 2 gold starts
    # after each line's first character, 9 + 8 predicted ones (never inside a character)
    assert m2["boundary_precision"] == pytest.approx(7 / 17)
    # every character is a word (10 + 9 of them): only the gold words "的" and "新" match
    assert m2["word_precision"] == pytest.approx(2 / 19)
    assert m2["word_recall"] == pytest.approx(2 / 9)
    assert "oov_rate" not in m2  # no word list
    # with the rules, "thecatsat" is one Latin run: one word, never cut
    m3 = evaluate_run(
        lab["run"], gold_seg=gold, settings=EvalSettings(**{**low.as_dict(), "rules": "all"})
    )
    assert m3.metrics["predicted_words"] == 10 + 1
    with pytest.raises(BitbenchError, match="--dict WORDS needs --gold-seg"):
        evaluate_run(lab["run"], corpus=lab["corpus"], settings=SMALL, word_list=words)
    with pytest.raises(BitbenchError, match="unknown signal"):
        EvalSettings(signal="vibes")


def test_compare_reuses_saved_evaluations(lab, tmp_path):
    run2 = make_run(lab["root"] / "run2", seed=1, steps=20)
    seen: list[tuple[str, str]] = []
    rows = compare_runs(
        [lab["run"], run2],
        corpus=lab["corpus"],
        settings=SMALL,
        progress=lambda n, s: seen.append((n, s)),
    )
    assert [r["name"] for r in rows] == ["run", "run2"]
    # twice the steps; each run's per-byte cost is what its own evaluation forwards ran
    assert rows[1]["train_flops"] == pytest.approx(2 * rows[0]["train_flops"], rel=0.05)
    assert (run2 / "eval" / "metrics.json").is_file()
    seen.clear()
    again = compare_runs(
        [lab["run"], run2],
        corpus=lab["corpus"],
        settings=SMALL,
        progress=lambda n, s: seen.append((n, s)),
    )
    assert seen == [("run", "cached"), ("run2", "cached")]
    assert [r["bpb"] for r in again] == [r["bpb"] for r in rows]
    files = write_compare(rows, tmp_path / "cmp", "bitlab compare")
    assert "| run | kind |" in files["report"].read_text()
    assert files["plot"].read_bytes()[:4] == b"\x89PNG"


def test_baseline_run_reports_bitswin_only_metrics_as_null(lab, tmp_path):
    from bittrain.tasks.baseline_task import make_baseline_task

    config = {"d_model": 16, "n_layers": 1, "n_heads": 2, "window": 8}
    task = make_baseline_task(
        "byte", config, train_split=None, run_dir=tmp_path, seed=0, total_steps=1
    )
    task.save_pretrained(task.model, tmp_path / "model")
    m = evaluate_run(tmp_path, corpus=lab["corpus"], settings=SMALL).metrics
    assert m["kind"] == "byte" and m["num_params"] > m["lookup_params"] > 0
    assert 4.0 < m["bpb"] < 12.0 and m["flops_per_byte"] > 0
    for key in ("acc_bit", "acc_byte", "acc_word", "acc_phrase", "boundary_f1", "table"):
        assert m[key] is None
    assert m["compression"]["gzip"] > 0  # model-independent references are still given


def test_bitswin_adapter_is_deterministic_and_batch_independent(lab):
    model = load_run(lab["run"])
    windows = np.frombuffer(b"the cat sat on a mat and the dog ran to see it " * 5, np.uint8)
    windows = windows[:192].reshape(3, 64).copy()
    first = model.masked_bits(windows, rate=0.15, seed=3)
    model.batch_size = 1  # a window's mask and score never depend on its batch
    assert model.masked_bits(windows, rate=0.15, seed=3) == pytest.approx(first)
    assert model.masked_bits(windows, rate=0.15, seed=4) != pytest.approx(first)
    bits, covered = first
    assert bits > 0
    assert 0.1 * 192 < covered < 0.2 * 192  # about 15% of the bytes
    acc = model.level_accuracies(windows, seed=0)
    assert acc["n_bit"] > 0 and acc["n_byte"] > 0
    # Word and phrase masks are cut from the model's own units (this untrained router keeps
    # each row in one unit: nothing to hide at 25% of units); a spacelike router has words.
    own = model.own_units(windows)
    assert own is not None and len(own) == 2 and own[0][:, 0].all()
    assert acc["n_word"] == int(
        eval_masks(
            torch.from_numpy(windows),
            torch.zeros(3, 64, dtype=torch.bool),
            target_unit_bytes=model.target_unit_bytes,
            seed=0,
            rates={"word": 0.25},
            boundaries=torch.from_numpy(own[0]),
            phrase=torch.from_numpy(own[1]),
        ).mask_word.sum()
    )
    spaced = BitSwinEval(BitSwinModel(dataclasses.replace(model.config, router="spacelike")))
    acc = spaced.level_accuracies(windows, seed=0)
    assert acc["n_word"] > 0 and acc["n_phrase"] > 0
    assert spaced.own_units(windows)[0][0, [0, 4, 8, 12]].all()  # "the cat sat on"
    texts = [b"the cat", b"", "中文 ok".encode(), b"x" * 1500]
    model.batch_size = 3
    features = model.features(texts)  # batched by length, padded
    assert features.shape == (4, 32) and not features[1].any()
    for text, row in zip(texts, features, strict=True):  # one text, one piece at a time
        if text:
            pieces = [
                np.frombuffer(text[s : s + 1024], np.uint8)[None] for s in range(0, len(text), 1024)
            ]
            ref = sum(model.byte_states(p)[0].sum(axis=0) for p in pieces) / len(text)
            np.testing.assert_allclose(row, ref, atol=1e-4)


def test_run_dir_errors(tmp_path):
    with pytest.raises(BittrainError, match="does not exist"):
        inspect_run(tmp_path / "missing")
    with pytest.raises(BittrainError, match=r"no model/config\.json"):
        inspect_run(tmp_path)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{not json")
    with pytest.raises(BittrainError, match="not valid JSON"):
        inspect_run(tmp_path)
    (tmp_path / "model" / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(BittrainError, match="model_type 'gpt2'"):
        load_run(tmp_path)
    with pytest.raises(BitbenchError, match="nothing to evaluate"):
        evaluate_run(tmp_path)


def test_metrics_log_torn_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"step": ')
    assert [r["step"] for r in read_metrics_log(path)] == [1, 2]
    path.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(BittrainError, match="line 2"):
        read_metrics_log(path)


class _PairCodes:
    """A stand-in encoding table: units are byte pairs, code = 1000 + first byte."""

    levels = 2

    def encode(self, data, level):
        data = bytes(np.asarray(data, dtype=np.uint8))
        return np.array([1000 + data[i] for i in range(0, len(data), 2)], dtype=np.int64)

    def lookup(self, level):
        from types import SimpleNamespace

        return SimpleNamespace(code_len=np.full(1300, 2, dtype=np.int64))  # every unit: 2 bytes

    def code_space(self, level):
        return 1300


def test_table_codes_never_reveal_hidden_bytes():
    import torch
    from bitswin import BitSwinConfig, BitSwinModel
    from bittrain.engine import shown_ids
    from bittrain.tasks.bitswin_eval import BitSwinEval

    torch.manual_seed(0)
    config = BitSwinConfig.tiny(
        depths=(1, 1), widths=(16, 32), heads=(2, 2), windows_bits=(8, 24), code_vocab_size=1300
    )
    with pytest.raises(BittrainError, match="encoding-table codes"):
        BitSwinEval(BitSwinModel(config))
    model = BitSwinEval(BitSwinModel(config), code_table=_PairCodes(), code_level=2)
    w = torch.from_numpy(np.frombuffer(b"abcdefgh", np.uint8).copy()[None])  # units ab cd ef gh
    hidden_bits = torch.zeros(1, 64, dtype=torch.bool)
    hidden_bits[0, 8 * 2 + 5] = True  # one bit of 'c'
    pad = torch.tensor([[False] * 6 + [True] * 2])
    ids = shown_ids(w, hidden_bits=hidden_bits, pad=pad)
    codes = model.codes(ids)[0].tolist()
    a, e = 1000 + ord("a"), 1000 + ord("e")
    assert codes == [a, a, -1, -1, e, e, -1, -1]  # 'cd' has a hidden bit, 'gh' is padding
    bits, covered = model.masked_bits(
        np.frombuffer(b"abcdefgh" * 8, np.uint8).reshape(2, 32).copy()
    )
    assert covered > 0 and bits > 0


def test_entropy_boundary_runs_score_by_prediction_entropy(lab):
    from bittrain.tasks.bitswin_eval import BitSwinEval

    head = load_run(lab["run"])
    entropy = BitSwinEval(head.model, boundary_source="entropy")
    windows = np.frombuffer(b"the cat sat on a mat. " * 6, np.uint8)[:128].reshape(2, 64).copy()
    scores = entropy.boundary_scores(windows)
    assert scores.shape == (2, 64)
    assert np.all(scores >= 0) and np.all(scores <= 8.0 + 1e-4)  # bits of a 256-way distribution
    assert not np.allclose(scores, head.boundary_scores(windows))
    # byte 3 is hidden in the odd pass: its score is the byte head's entropy there
    import torch
    from bittrain.engine import shown_ids

    hide = torch.zeros(2, 64, dtype=torch.bool)
    hide[:, 1::2] = True
    out = entropy._forward(shown_ids(torch.from_numpy(windows), hidden_bytes=hide))
    logp = torch.log_softmax(out.byte_logits.float(), -1)
    bits = float(-(logp.exp() * logp).sum(-1)[0, 3] / np.log(2))
    assert scores[0, 3] == pytest.approx(bits, rel=1e-4)


def _baseline_run(path: Path, kind: str, corpus: Path) -> Path:
    from bitcodec.corpus_reader import open_corpus
    from bittrain.tasks.baseline_task import make_baseline_task

    sizes = {"d_model": 32, "n_layers": 1, "n_heads": 2}
    task = make_baseline_task(
        kind,
        sizes if kind == "byte" else {**sizes, "vocab_size": 400},
        train_split=open_corpus(corpus).train,
        run_dir=path,
        seed=0,
        total_steps=1,
    )
    task.save_pretrained(task.model, path / "model")
    (path / "metrics.jsonl").write_text(json.dumps({"kind": "val", "step": 1, "bpb": 8.0}) + "\n")
    (path / "config.toml").write_text("batch_size = 4\nseq_len = 64\n")
    return path


def test_every_kind_hides_the_same_bytes(lab):
    pytest.importorskip("transformers")
    runs = {"bitswin": lab["run"]}
    for kind in ("byte", "bpe", "hf-bert"):
        runs[kind] = _baseline_run(lab["root"] / f"run-{kind}", kind, lab["corpus"])
    settings = EvalSettings(windows=3, seq_len=64, text_bytes=2000, table_windows=2)
    got = {
        k: evaluate_run(r, corpus=lab["corpus"], settings=settings).metrics for k, r in runs.items()
    }
    for protocol in ("words", "tokens", "bytes"):
        digests = {k: m["protocols"][protocol]["hidden_digest"] for k, m in got.items()}
        assert len(set(digests.values())) == 1, digests
    assert len({m["hidden_digest"] for m in got.values()}) == 1  # "bpb" is words for all
    for kind, m in got.items():
        assert m["kind"] == kind and m["protocol"] == "words"
        assert 0 < m["bpb"] < 20 and 0 < m["bpb_one_pass"] < 20
        assert m["bpb_tokens"] is not None
        assert (m["bpb_bytes"] is None) == (kind in ("bpe", "hf-bert"))  # BPE reports "-"
        assert m["flops_per_byte"] > 0


def test_consistency_is_read_against_an_untrained_control(lab):
    """The lab run is an untrained model built with seed 0, so it *is* its own control: a
    metric that can fail shows no margin for it, however high the AUC itself is."""
    m = evaluate_run(lab["run"], corpus=lab["corpus"], settings=SMALL).metrics
    assert m["consistency_auc"] is not None and m["consistency_auc_raw"] is not None
    assert m["consistency_auc"] == pytest.approx(m["consistency_auc_control"])


def test_words_protocol_uses_gold_words_with_gold_seg(lab, tmp_path):
    gold = tmp_path / "gold.txt"
    gold.write_text("the cat sat on a mat\nred sun over big hill\n" * 6, encoding="utf-8")
    settings = EvalSettings(windows=2, seq_len=64, text_bytes=2000, table_windows=2,
                            protocols=("words", "bytes"))  # fmt: skip
    m = evaluate_run(lab["run"], corpus=lab["corpus"], gold_seg=gold, settings=settings).metrics
    words = m["protocols"]["words"]
    assert words["units"] == "gold words" and words["text"] == "gold lines"
    assert m["protocols"]["bytes"]["text"] == "val windows" and "tokens" not in m["protocols"]
    assert words["hidden_bytes"] > 0 and m["bpb"] == words["bpb"]
