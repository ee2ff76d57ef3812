"""`bitlab eval`, `segment`, `fill` and `compare` on a tiny hand-built run, and their one-line
errors for malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bitlab.main import invoke

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
FAST = ["--windows", "2", "--seq-len", "48", "--text-bytes", "2000", "--table-windows", "8"]


def _corpus(path: Path) -> Path:
    from bitcodec.corpus_writer import CorpusWriter

    rng = np.random.default_rng(0)
    with CorpusWriter(path, val_fraction=0.3) as writer:
        for _ in range(120):
            writer.add((" ".join(rng.choice(WORDS, size=12)) + ".").encode())
    return path


def _run(path: Path, seed: int = 0) -> Path:
    import torch
    from bitswin import BitSwinConfig, BitSwinModel

    torch.manual_seed(seed)
    config = BitSwinConfig.tiny(depths=(1, 1, 1, 1), widths=(16, 32, 32, 32), heads=(2, 2, 2, 2))
    BitSwinModel(config).save_pretrained(path / "model")
    rows = [{"kind": "val", "step": s, "acc_byte": s / 10, "bpb": 8 - s / 10} for s in (1, 2, 3)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "config.toml").write_text("batch_size = 2\nseq_len = 48\n")
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    return {"root": root, "corpus": _corpus(root / "c.zarr"), "run": _run(root / "run")}


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bitlab: error:"), err
    return err[0]


def test_eval_writes_metrics_report_and_plots(lab, capsys):
    out = lab["run"] / "eval"  # the default --out
    code = invoke(["eval", str(lab["run"]), "--corpus", str(lab["corpus"]), *FAST, "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "metrics.json").read_text())
    assert printed["bpb"] == saved["bpb"] and saved["bpb"] > 0
    assert saved["command"].startswith("bitlab eval ") and "--windows 2" in saved["command"]
    assert "| `boundary_f1` |" in (out / "report.md").read_text()
    for name in ("accuracy_over_training", "boundary_view", "table_rank_frequency"):
        assert (out / f"{name}.png").stat().st_size > 1000


def test_segment_and_fill(lab, capsys):
    assert (
        invoke(["segment", str(lab["run"]), "--text", "the cat sat\non a mat", "--sep", "/"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].split("/") == ["the", "cat", "sat"] and lines[1].split("/") == [
        "on",
        "a",
        "mat",
    ]
    assert (
        invoke(["segment", str(lab["run"]), "--text", "the cat", "--threshold", "-1e9", "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["lines"] == [["the", "cat"]]  # spaces separate

    assert invoke(["fill", str(lab["run"]), "--text", "the c_t s_t", "--steps", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rounds"] == 2 and len(result["filled"]) == 2
    text = result["text"]
    assert text[:5] == "the c" and text[6:9] == "t s" and "_" not in text


def test_segment_with_the_probe_and_weighted_signals(lab, capsys, tmp_path):
    """--signal counts+0.5*probe on a bitswin run: the probe trains on --corpus and the text,
    words cover the line exactly; the weighted PMI runs chained and unchained."""
    raw = tmp_path / "raw.txt"
    rng = np.random.default_rng(3)
    raw.write_text("\n".join("".join(rng.choice(WORDS, size=6)) for _ in range(40)) + "\n")
    line = "thecatsatonamat"
    argv = ["segment", str(lab["run"]), "--text", line, "--corpus", str(raw), "--rules", "none"]
    argv.append("--json")  # a Latin run is one atom under the default rules
    assert invoke([*argv, "--signal", "counts+0.5*probe"]) == 0
    words = json.loads(capsys.readouterr().out)["lines"][0]
    assert "".join(words) == line and len(words) > 1
    for chain in ("--chain", "--no-chain"):
        assert invoke([*argv, "--signal", "counts+0.5*pmi", chain]) == 0
        assert "".join(json.loads(capsys.readouterr().out)["lines"][0]) == line


def test_compare_table_and_plot(lab, capsys, tmp_path):
    run2 = _run(lab["root"] / "run2", seed=1)
    out = tmp_path / "cmp"
    code = invoke(
        [
            "compare",
            str(lab["run"]),
            str(run2),
            "--corpus",
            str(lab["corpus"]),
            *FAST,
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert (run2 / "eval" / "metrics.json").is_file()  # evaluated now (and cached for next time)
    table = (out / "compare.md").read_text()
    assert "| run |" in table and "| run2 |" in table
    assert (out / "bpb_vs_flops.png").is_file()
    rows = json.loads((out / "compare.json").read_text())["rows"]
    assert [r["kind"] for r in rows] == ["bitswin", "bitswin"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["eval", "{root}/nope", "--corpus", "{corpus}"], "does not exist"),
        (["eval", "{run}"], "nothing to evaluate"),
        (["eval", "{run}", "--corpus", "{root}/missing.zarr"], "missing.zarr"),
        (["eval", "{run}", "--gold-seg", "{root}/no-gold.txt"], "no-gold.txt"),
        (["eval", "{run}", "--corpus", "{corpus}", "--windows", "0"], "windows"),
        (["segment", "{run}"], "exactly one of --text"),
        (["segment", "{run}", "--file", "{root}/absent.txt"], "absent.txt"),
        (["segment", "{run}", "--text", "x", "--decoder", "viterbi"], "unknown decoder"),
        (["segment", "{run}", "--text", "x", "--rules", "digits"], "unknown segmentation rule"),
        (["segment", "{run}", "--text", "x", "--signal", "vibes"], "--signal 'vibes'"),
        (["eval", "{run}", "--corpus", "{corpus}", "--dict", "{root}/w.txt"], "needs --gold-seg"),
        (["fill", "{run}", "--text", "no holes here"], "no hole"),
        (["fill", "{run}", "--text", "a_b", "--device", "tpu9"], "not a torch device"),
        (["fill", "{run}", "--text", "a_b", "--hole", "__"], "one character"),
        (["compare", "{run}", "{root}", "--corpus", "{corpus}"], "no model/config.json"),
    ],
)
def test_malformed_inputs_give_one_line(lab, capsys, argv, message):
    argv = [a.format(root=lab["root"], run=lab["run"], corpus=lab["corpus"]) for a in argv]
    assert invoke(argv) == 2
    assert message in _one_error_line(capsys)


def test_gold_seg_not_utf8(lab, capsys):
    bad = lab["root"] / "latin1.txt"
    bad.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    assert invoke(["eval", str(lab["run"]), "--gold-seg", str(bad)]) == 2
    assert "not UTF-8" in _one_error_line(capsys)


def _hf_dir(path: Path) -> Path:
    """A tiny randomly initialised BertForMaskedLM and its own WordPiece tokenizer (which drops
    whitespace), saved like any Hugging Face model: no network involved."""
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(
        [" ".join(WORDS) + " ."] * 20,
        trainers.WordPieceTrainer(vocab_size=120, special_tokens=specials, show_progress=False),
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]",
    )  # fmt: skip
    config = transformers.BertConfig(
        vocab_size=fast.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )  # fmt: skip
    transformers.BertForMaskedLM(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def test_eval_of_a_local_hugging_face_masked_lm(lab, capsys):
    hf = _hf_dir(lab["root"] / "hf-model")
    out = lab["root"] / "hf-eval"
    code = invoke(["eval", str(hf), "--corpus", str(lab["corpus"]), *FAST, "--protocol", "words",
                   "--out", str(out), "--json"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["kind"] == "hf" and metrics["protocol"] == "words"
    assert 0.0 < metrics["bpb"] < 30.0 and metrics["hidden_digest"]
    # the same corpus and seed hide the same bytes for the bitswin run
    own = lab["root"] / "swin-eval"
    assert invoke(["eval", str(lab["run"]), "--corpus", str(lab["corpus"]), *FAST, "-p", "words",
                   "--out", str(own)]) == 0  # fmt: skip
    assert (
        json.loads((own / "metrics.json").read_text())["hidden_digest"] == metrics["hidden_digest"]
    )
    assert (
        "--protocol words" not in metrics["command"]
        or metrics["command"].endswith("--json") is False
    )


def test_eval_rejects_an_unknown_protocol(lab, capsys):
    code = invoke(["eval", str(lab["run"]), "--corpus", str(lab["corpus"]), *FAST,
                   "--protocol", "sentences"])  # fmt: skip
    assert code != 0
    assert "protocol 'sentences' is unknown" in capsys.readouterr().err
