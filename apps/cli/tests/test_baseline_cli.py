"""`bitlab baseline train`: byte and BPE baselines through the real trainer, resume, errors."""

from __future__ import annotations

import json

import pytest
from bitlab.main import invoke
from bittrain.fixtures import write_sample_corpus

QUICK = [
    "--set", "checkpoint_every=2", "--set", "eval_every=0", "--set", "eval_windows=2",
    "--set", "batch_size=2", "--set", "seq_len=48", "--set", "log_every=1", "--no-progress",
    "--set", "model.d_model=16", "--set", "model.n_heads=2", "--set", "model.n_layers=1",
]  # fmt: skip
BY_KIND = {
    "byte": ["--set", "model.window=8"],
    "bpe": ["--set", "model.vocab_size=300", "--set", "model.max_positions=64"],
    "hf-bert": ["--set", "model.vocab_size=300", "--set", "model.max_positions=64"],
}
MODEL_TYPES = {"byte": "byte_mlm", "bpe": "bpe_mlm", "hf-bert": "bert"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_sample_corpus(tmp_path_factory.mktemp("corpus") / "c.zarr", n_docs=60)


@pytest.mark.parametrize("kind", ["byte", "bpe", "hf-bert"])
def test_baseline_trains_saves_and_resumes(tmp_path, corpus, capsys, kind):
    from bittrain.tasks.baseline_eval import load_baseline

    if kind == "hf-bert":
        pytest.importorskip("transformers")
    run = tmp_path / kind
    args = ["baseline", "train", "--kind", kind, "--corpus", str(corpus), "--out", str(run),
            *QUICK, *BY_KIND[kind]]  # fmt: skip
    assert invoke([*args, "--max-steps", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["kind"] == kind and result["step"] == 2
    assert result["val"]["val_bpb_masked"] > 0 and result["flops_per_byte"] > 0
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["model_type"] == MODEL_TYPES[kind]
    if kind != "byte":
        tokenizer = (run / "tokenizer.json").read_text()
        assert (run / "model" / "tokenizer.json").read_text() == tokenizer
    # --resume continues the same run (and reuses the run's tokenizer)
    assert invoke(["baseline", "train", "--kind", kind, "--out", str(run), "--resume",
                   "--max-steps", "4", "--no-progress", "--json"]) == 0  # fmt: skip
    again = json.loads(capsys.readouterr().out)
    assert again["step"] == 4
    if kind != "byte":
        assert (run / "tokenizer.json").read_text() == tokenizer
    model = load_baseline(run / "model")
    assert model.kind == kind
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2, 3, 4]
    if kind == "hf-bert":  # a plain Hugging Face directory: transformers loads it as it is
        import transformers

        bert = transformers.AutoModelForMaskedLM.from_pretrained(run / "model")
        tok = transformers.AutoTokenizer.from_pretrained(run / "model")
        assert type(bert).__name__ == "BertForMaskedLM" and tok.mask_token_id == 1


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bitlab: error:"), err
    return err[0]


def test_baseline_errors_are_one_line(tmp_path, corpus, capsys):
    base = ["baseline", "train", "--corpus", str(corpus), "--out", str(tmp_path / "r"), *QUICK]
    assert invoke([*base, "--kind", "gpt"]) == 2
    assert "--kind byte, --kind bpe or --kind hf-bert" in _one_error_line(capsys)
    assert invoke([*base, "--kind", "byte", "--set", "model=bitswin"]) == 2
    assert "contradicts --kind byte" in _one_error_line(capsys)
    assert invoke([*base, "--kind", "byte", "--set", "model.widht=3", "--max-steps", "1"]) == 2
    assert "'widht'" in _one_error_line(capsys)
    assert invoke(["baseline", "train", "--kind", "byte", "--out", str(tmp_path / "n"),
                   "--resume"]) == 2  # fmt: skip
    assert "config.toml" in _one_error_line(capsys)
