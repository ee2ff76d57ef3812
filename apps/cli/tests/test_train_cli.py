"""`bitlab train` on bad input: one line on stderr, exit code 2, nothing half-written."""

from __future__ import annotations

import pytest
from bitlab.main import invoke
from bitlab.training.fixtures import MICRO_MODEL, write_sample_corpus

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


def _one_line_error(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("bitlab: error:"), err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_missing_corpus(tmp_path, capsys) -> None:
    code = invoke(
        ["train", "--corpus", str(tmp_path / "nope.zarr"), "--out", str(tmp_path / "r"), *QUICK]
    )
    assert code == 2
    _one_line_error(capsys, "nope.zarr", "does not exist")
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
    _one_line_error(capsys, "fewer than one window", "seq_len")


def test_bad_key(tmp_path, corpus, capsys) -> None:
    code = invoke(
        ["train", "--corpus", str(corpus), "--out", str(tmp_path / "r"), "--set", "lr_warmup=5"]
    )
    assert code == 2
    _one_line_error(capsys, "unknown config key 'lr_warmup'")


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
    _one_line_error(capsys, "model.depth", "did you mean 'model.depths'")


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
    _one_line_error(capsys, f"--gpus {asked}")


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
    _one_line_error(capsys, "batch_size 3", "multiple of 2")


def test_resume_needs_a_run_and_a_run_is_not_overwritten(tmp_path, corpus, capsys) -> None:
    run = tmp_path / "r"
    assert invoke(["train", "--out", str(run), "--resume"]) == 2
    _one_line_error(capsys, "config.toml")
    assert invoke(["train", "--corpus", str(corpus), "--out", str(run), *QUICK]) == 0
    capsys.readouterr()
    assert (run / "model" / "model.safetensors").is_file()
    assert invoke(["train", "--corpus", str(corpus), "--out", str(run), *QUICK]) == 2
    _one_line_error(capsys, "already holds a run", "--resume")
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
    _one_line_error(capsys, "--init")


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(
    tmp_path, corpus, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("BITLAB_TRAIN_FAULT", "nan@3")
    run = tmp_path / "r"
    code = invoke(["train", "--corpus", str(corpus), "--out", str(run), *QUICK])
    assert code == 2
    _one_line_error(capsys, "NaN", "step 3", "step-00000002")
    assert (run / "checkpoints" / "step-00000002" / "trainer_state.json").is_file()
    assert not (run / "checkpoints" / "step-00000004").exists()
    assert not (run / "model").exists()
