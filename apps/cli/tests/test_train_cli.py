"""`bitlab train` on bad input: one line on stderr, exit code 2, nothing half-written."""

from __future__ import annotations

import pytest
from bitlab.main import invoke
from bittrain.fixtures import MICRO_MODEL, write_sample_corpus
from cli_checks import one_line_error

QUICK = [
    "--set",
    "max_steps=4",
    "--set",
    "checkpoint_every=2",
    "--set",
    "eval_every=0",
    "--set",
    "eval_windows=2",
    "--set",
    "batch_size=2",
    "--set",
    "seq_len=32",
    "--set",
    "log_every=1",
    "--set",
    "table_update_every=2",
    "--no-progress",
]
for item in MICRO_MODEL:
    QUICK += ["--set", item]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_sample_corpus(tmp_path_factory.mktemp("corpus") / "c.zarr", n_docs=80)


def test_missing_corpus(tmp_path, capsys) -> None:
    code = invoke(
        ["train", "--corpus", str(tmp_path / "nope.zarr"), "--out", str(tmp_path / "r"), *QUICK]
    )
    assert code == 2
    one_line_error(capsys, "nope.zarr", "does not exist")
    assert not (tmp_path / "r").exists()


def test_corpus_smaller_than_a_window(tmp_path, capsys) -> None:
    small = write_sample_corpus(tmp_path / "small.zarr", n_docs=3, val_fraction=0.0)
    code = invoke(
        [
            "train",
            "--corpus",
            str(small),
            "--out",
            str(tmp_path / "r"),
            *QUICK,
            "--set",
            "seq_len=4096",
        ]
    )
    assert code == 2
    one_line_error(capsys, "fewer than one window", "seq_len")


def test_bad_key(tmp_path, corpus, capsys) -> None:
    code = invoke(
        ["train", "--corpus", str(corpus), "--out", str(tmp_path / "r"), "--set", "lr_warmup=5"]
    )
    assert code == 2
    one_line_error(capsys, "unknown config key 'lr_warmup'")


def test_bad_model_key(tmp_path, corpus, capsys) -> None:
    code = invoke(
        [
            "train",
            "--corpus",
            str(corpus),
            "--out",
            str(tmp_path / "r"),
            *QUICK,
            "--set",
            "model.depth=[1, 1]",
        ]
    )
    assert code == 2
    one_line_error(capsys, "model.depth", "did you mean 'model.depths'")


def test_too_many_gpus(tmp_path, corpus, capsys) -> None:
    import torch

    asked = torch.cuda.device_count() + 1
    code = invoke(
        [
            "train",
            "--corpus",
            str(corpus),
            "--out",
            str(tmp_path / "r"),
            *QUICK,
            "--gpus",
            str(asked),
        ]
    )
    assert code == 2
    one_line_error(capsys, f"--gpus {asked}")


def test_batch_that_does_not_split(tmp_path, corpus, capsys) -> None:
    code = invoke(
        [
            "train",
            "--corpus",
            str(corpus),
            "--out",
            str(tmp_path / "r"),
            *QUICK,
            "--set",
            "batch_size=3",
            "--set",
            "grad_accum=2",
        ]
    )
    assert code == 2
    one_line_error(capsys, "batch_size 3", "multiple of 2")


def test_resume_needs_a_run_and_a_run_is_not_overwritten(tmp_path, corpus, capsys) -> None:
    run = tmp_path / "r"
    assert invoke(["train", "--out", str(run), "--resume"]) == 2
    one_line_error(capsys, "config.toml")
    assert invoke(["train", "--corpus", str(corpus), "--out", str(run), *QUICK]) == 0
    capsys.readouterr()
    assert (run / "model" / "model.safetensors").is_file()
    assert invoke(["train", "--corpus", str(corpus), "--out", str(run), *QUICK]) == 2
    one_line_error(capsys, "already holds a run", "--resume")
    # --init from the finished run starts a new run from its weights.
    other = tmp_path / "ft"
    assert (
        invoke(["train", "--corpus", str(corpus), "--out", str(other), "--init", str(run), *QUICK])
        == 0
    )
    capsys.readouterr()
    assert (
        invoke(
            [
                "train",
                "--corpus",
                str(corpus),
                "--out",
                str(tmp_path / "x"),
                "--init",
                str(tmp_path / "none"),
                *QUICK,
            ]
        )
        == 2
    )
    one_line_error(capsys, "--init")


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(
    tmp_path, corpus, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("BITLAB_TRAIN_FAULT", "nan@3")
    run = tmp_path / "r"
    code = invoke(["train", "--corpus", str(corpus), "--out", str(run), *QUICK])
    assert code == 2
    one_line_error(capsys, "NaN", "step 3", "step-00000002")
    assert (run / "checkpoints" / "step-00000002" / "trainer_state.json").is_file()
    assert not (run / "checkpoints" / "step-00000004").exists()
    assert not (run / "model").exists()


def test_variants_entropy_boundaries_epoch_curriculum_corruption(tmp_path, corpus, capsys) -> None:
    import json

    run = tmp_path / "r"
    code = invoke(["train", "--corpus", str(corpus), "--out", str(run), *QUICK, "--json",
                   "--config", "tiny-curriculum",
                   "--set", 'boundary_source="entropy"', "--set", 'curriculum_unit="epoch"',
                   "--set", "steps_per_epoch=1", "--set", "mask.word_start=1",
                   "--set", "mask.phrase_start=2", "--set", "mask.byte_start=0",
                   "--set", "corruption.replace_rate=0.1",
                   "--set", "grad_accum=2", "--set", "eval_every=2"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "ok" and result["step"] == 4
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["kind"] == "train"]
    assert [r["phase"] for r in train] == [2, 3, 4, 4]  # epochs 0..3 with this curriculum
    val = [r for r in rows if r["kind"] == "val"]
    assert [r["step"] for r in val] == [2, 4] and all(r["val_bpb_masked"] > 0 for r in val)
    assert all(0.0 <= r["train_acc_replaced"] <= 1.0 for r in train)
    assert {p.name for p in (run / "plots").iterdir()} == {
        "loss.png",
        "accuracy.png",
        "validation.png",
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, corpus):
    run = tmp_path_factory.mktemp("first") / "run"
    assert invoke(["train", "--corpus", str(corpus), "--out", str(run), *QUICK]) == 0
    return run


@pytest.mark.parametrize("mode", ["fixed", "adaptive"])
def test_table_codes_feed_the_model(tmp_path, corpus, finished_run, capsys, mode) -> None:
    import json

    from enctable import AdaptiveEncodingTable

    first = finished_run
    capsys.readouterr()
    table = AdaptiveEncodingTable.load(first / "table")
    run = tmp_path / "coded"
    code = invoke(["train", "--corpus", str(corpus), "--out", str(run), *QUICK,
                   "--table", str(first / "table"), "--table-mode", mode])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    model_config = json.loads((run / "model" / "config.json").read_text())
    assert model_config["code_vocab_size"] == table.code_space(2)
    assert f'table_mode = "{mode}"' in (run / "config.toml").read_text()
    assert invoke(["train", "--corpus", str(corpus), "--out", str(tmp_path / "x"), *QUICK,
                   "--table", str(tmp_path / "missing")]) == 2  # fmt: skip
    one_line_error(capsys, "--table", "missing")
