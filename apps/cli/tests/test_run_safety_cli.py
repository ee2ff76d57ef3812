"""`bitlab train` / `bitlab baseline train` never replace a run without --overwrite, resume a
moved run and pass over a damaged checkpoint, and check --out before any work: exit code, one
line, and the user's files byte-identical afterwards."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from bitlab.main import invoke
from bittrain.fixtures import MICRO_MODEL, write_sample_corpus
from cli_checks import one_line_error, snapshot
from safetensors.torch import load_file

SETTINGS = ["max_steps=6", "checkpoint_every=2", "eval_every=0", "eval_windows=2", "batch_size=2",
            "seq_len=32", "log_every=1", "table_update_every=2", *MICRO_MODEL]  # fmt: skip


def _train(corpus: Path, run: Path, *extra: str) -> list[str]:
    words = ["train", "--corpus", str(corpus), "--out", str(run), "--no-progress"]
    for item in SETTINGS:
        words += ["--set", item]
    return [*words, *extra]


def _same_weights(a: Path, b: Path) -> bool:
    x = load_file(str(a / "model" / "model.safetensors"))
    y = load_file(str(b / "model" / "model.safetensors"))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_sample_corpus(tmp_path_factory.mktemp("corpus") / "c.zarr", n_docs=80)


@pytest.fixture(scope="module")
def straight(tmp_path_factory, corpus) -> Path:
    """A run trained to its end without a stop."""
    run = tmp_path_factory.mktemp("straight") / "run"
    assert invoke(_train(corpus, run)) == 0
    return run


@pytest.fixture(scope="module")
def stopped(tmp_path_factory, corpus) -> Path:
    """The same run stopped by a NaN at step 5: checkpoints at steps 2 and 4, no model."""
    run = tmp_path_factory.mktemp("stopped") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BITLAB_TRAIN_FAULT", "nan@5")
        assert invoke(_train(corpus, run)) == 2
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-00000002",
        "step-00000004",
    ]
    return run


def _copy(run: Path, where: Path) -> Path:
    shutil.copytree(run, where)
    return where


def test_finished_run_without_checkpoints_is_kept_until_overwrite(
    tmp_path, corpus, straight, capsys
) -> None:
    run = _copy(straight, tmp_path / "run")
    shutil.rmtree(run / "checkpoints")
    (run / "eval").mkdir()
    (run / "eval" / "metrics.json").write_text('{"bpb": 1.0}')
    (run / "notes.txt").write_text("mine")
    before = snapshot(run)
    capsys.readouterr()

    assert invoke(_train(corpus, run)) == 2
    one_line_error(capsys, "already holds a run", "model/", "--overwrite", "another --out")
    assert snapshot(run) == before
    assert invoke(_train(corpus, run, "--resume")) == 2
    one_line_error(capsys, "finished model but no checkpoint", "--overwrite")
    assert snapshot(run) == before
    assert invoke(_train(corpus, run, "--resume", "--overwrite")) == 2
    one_line_error(capsys, "give one of them")
    assert snapshot(run) == before

    # Asked for, the run is replaced: the stale eval/ goes, the user's own file stays.
    assert invoke(_train(corpus, run, "--overwrite", "--max-steps", "2")) == 0
    capsys.readouterr()
    assert not (run / "eval").exists()
    assert (run / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000002"]
    assert not _same_weights(run, straight)  # a new model (2 steps, not 6)
    assert "max_steps = 2" in (run / "config.toml").read_text()


def test_checkpoints_without_trainer_state_are_not_a_reason_to_retrain(
    tmp_path, corpus, stopped, capsys
) -> None:
    run = _copy(stopped, tmp_path / "run")
    for ckpt in (run / "checkpoints").iterdir():
        (ckpt / "trainer_state.json").unlink()
    before = snapshot(run)
    capsys.readouterr()
    assert invoke(_train(corpus, run, "--resume")) == 2
    one_line_error(capsys, "no checkpoint", "trainer_state.json is missing", "--overwrite")
    assert snapshot(run) == before
    # The old advice ("start the run without --resume") would retrain over it: refused too.
    assert invoke(_train(corpus, run)) == 2
    one_line_error(capsys, "already holds a run", "--overwrite")
    assert snapshot(run) == before


def test_truncated_latest_checkpoint_falls_back_to_the_previous(
    tmp_path, corpus, stopped, straight, capsys
) -> None:
    run = _copy(stopped, tmp_path / "run")
    weights = run / "checkpoints" / "step-00000004" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])  # a copy that stopped short
    capsys.readouterr()
    assert invoke(_train(corpus, run, "--resume")) == 0
    err = capsys.readouterr().err
    assert "from step-00000002" in err and "damaged step-00000004" in err, err
    assert "truncated" in err
    assert _same_weights(run, straight)  # as if it had never stopped


def test_moved_and_copied_runs_resume_with_their_own_command_line(
    tmp_path, corpus, stopped, straight, capsys
) -> None:
    original = _copy(stopped, tmp_path / "a")
    copied = _copy(original, tmp_path / "copy")
    before = snapshot(original)
    # A copy resumes where it is, and the run it was copied from is not touched.
    assert invoke(_train(corpus, copied, "--resume")) == 0
    assert _same_weights(copied, straight)
    assert f'out = "{copied}"' in (copied / "config.toml").read_text()
    assert snapshot(original) == before
    # A moved run resumes too (the saved config names its old folder).
    moved = tmp_path / "b"
    original.rename(moved)
    capsys.readouterr()
    assert invoke(_train(corpus, moved, "--resume")) == 0
    assert _same_weights(moved, straight)


def test_unwritable_out_is_refused_before_any_work(tmp_path, corpus, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    for command in (
        _train(tmp_path / "missing.zarr", blocker / "run"),
        ["baseline", "train", "--kind", "byte", "--corpus", str(tmp_path / "missing.zarr"),
         "--out", str(blocker / "run"), "--no-progress"],
    ):  # fmt: skip
        assert invoke(command) == 2
        # the corpus is missing too: the --out line comes first, before the corpus is read
        one_line_error(capsys, "--out", "cannot be created", "is a file")
    assert blocker.read_text() == "a file, not a folder"


def test_baseline_run_is_kept_until_overwrite(tmp_path, corpus, capsys) -> None:
    run = tmp_path / "bpe"
    args = ["baseline", "train", "--kind", "byte", "--corpus", str(corpus), "--out", str(run),
            "--no-progress", "--max-steps", "2", "--set", "checkpoint_every=2",
            "--set", "eval_every=0", "--set", "batch_size=2", "--set", "seq_len=48",
            "--set", "model.d_model=16", "--set", "model.n_heads=2", "--set", "model.n_layers=1",
            "--set", "model.window=8"]  # fmt: skip
    assert invoke(args) == 0
    (run / "notes.txt").write_text("mine")
    before = snapshot(run)
    capsys.readouterr()
    assert invoke(args) == 2
    one_line_error(capsys, "already holds a run", "--resume", "--overwrite")
    assert snapshot(run) == before
    assert invoke([*args, "--overwrite"]) == 0
    assert (run / "notes.txt").read_text() == "mine"
    assert (run / "model" / "model.safetensors").is_file()
