"""Validation rows score every kind under the evaluation protocols on the same hidden bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bittrain import load_config, run_training
from bittrain.fixtures import MICRO_MODEL, write_sample_corpus

BYTE = ("model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.window=16")
BPE = ("model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.vocab_size=300")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_sample_corpus(tmp_path_factory.mktemp("corpus") / "c.zarr", n_docs=60)


def _val_rows(corpus: Path, out: Path, *overrides: str) -> list[dict]:
    common = ("batch_size=4", "seq_len=128", "max_steps=2", "eval_every=1", "eval_windows=4")
    cfg = load_config("tiny", [*common, *overrides], corpus=str(corpus), out=str(out))
    run_training(cfg, progress=False)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["kind"] == "val"]


def test_every_kind_is_scored_on_the_same_hidden_bytes(corpus: Path, tmp_path: Path) -> None:
    runs = {
        "bitswin": _val_rows(corpus, tmp_path / "bitswin", *MICRO_MODEL),
        "byte": _val_rows(corpus, tmp_path / "byte", "task=byte", *BYTE),
        "bpe": _val_rows(corpus, tmp_path / "bpe", "task=bpe", *BPE),
    }
    for kind, rows in runs.items():
        assert [r["step"] for r in rows] == [1, 2]
        for protocol in ("words", "tokens"):
            assert rows[-1][f"bpb_{protocol}_one_pass"] > 0
            assert (
                rows[-1][f"hidden_digest_{protocol}"]
                == runs["byte"][-1][f"hidden_digest_{protocol}"]
            )
        assert ("bpb_bytes_one_pass" in rows[-1]) == (
            kind != "bpe"
        )  # bytes: byte-granular models only
        assert rows[-1]["train_flops"] > rows[0]["train_flops"] > 0
    # the protocols' bytes are the same for bitswin and the byte model
    assert runs["bitswin"][-1]["hidden_digest_bytes"] == runs["byte"][-1]["hidden_digest_bytes"]


def test_protocols_can_be_switched_off_or_named(corpus: Path, tmp_path: Path) -> None:
    rows = _val_rows(corpus, tmp_path / "off", "eval_protocols=''", *MICRO_MODEL)
    assert not any(k.startswith("bpb_") for k in rows[-1]) and "val_bpb_masked" in rows[-1]
    from bittrain.errors import BittrainError

    with pytest.raises(BittrainError, match="protocol 'wrods' is unknown"):
        load_config("tiny", ["eval_protocols=wrods"])
