"""A run folder is never replaced without --overwrite, resume ignores where the run is and runs,
and a damaged checkpoint is passed over for the previous whole one (hand-made folders)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from bittrain.errors import BittrainError
from bittrain.fileio import safetensors_problem
from bittrain.rundir import RUN_ENTRIES, run_entries
from bittrain.trainer.checkpoints.files import (
    checkpoint_problem,
    newest_usable_checkpoint,
    remove_checkpoints_after,
)
from bittrain.trainer.config import TrainConfig
from bittrain.trainer.resume_config import config_changes
from bittrain.trainer.setup import check_overwrite_inputs, clear_run, resume_point
from safetensors.torch import save_file


def _tensors(path: Path, n: int = 16) -> None:
    save_file({"w": torch.arange(n, dtype=torch.float32)}, str(path))


def _checkpoint(run: Path, step: int) -> Path:
    """A checkpoint folder with every file resuming reads (contents made up)."""
    ckpt = run / "checkpoints" / f"step-{step:08d}"
    (ckpt / "task").mkdir(parents=True)
    for name in ("model.safetensors", "optimizer.safetensors", "rng.safetensors"):
        _tensors(ckpt / name)
    _tensors(ckpt / "task" / "boundary.safetensors")
    (ckpt / "optimizer.json").write_text(json.dumps({"groups": []}))
    (ckpt / "trainer_state.json").write_text(json.dumps({"step": step}))
    return ckpt


def _truncate(path: Path, keep: int = 20) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - keep])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# -- safetensors files --------------------------------------------------------------------------


def test_safetensors_problem_tells_whole_from_truncated_missing_and_garbage(tmp_path) -> None:
    whole = tmp_path / "w.safetensors"
    _tensors(whole)
    assert safetensors_problem(whole) is None
    cut = tmp_path / "cut.safetensors"
    _tensors(cut)
    _truncate(cut)
    assert "truncated" in safetensors_problem(cut)
    header_cut = tmp_path / "h.safetensors"
    header_cut.write_bytes(whole.read_bytes()[:12])  # the length promises more header than there is
    assert "truncated" in safetensors_problem(header_cut)
    garbage = tmp_path / "g.safetensors"
    garbage.write_bytes((4).to_bytes(8, "little") + b"{{{{" + b"\0" * 8)
    assert "damaged header" in safetensors_problem(garbage)
    assert "missing" in safetensors_problem(tmp_path / "none.safetensors")


# -- checkpoints: the newest whole one ----------------------------------------------------------


def test_whole_checkpoint_has_no_problem(tmp_path) -> None:
    assert checkpoint_problem(_checkpoint(tmp_path, 2)) is None


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda c: _truncate(c / "model.safetensors"), "model.safetensors is truncated"),
        (lambda c: (c / "trainer_state.json").unlink(), "trainer_state.json is missing"),
        (lambda c: (c / "rng.safetensors").unlink(), "rng.safetensors is missing"),
        (lambda c: _truncate(c / "task" / "boundary.safetensors"), "task/boundary.safetensors"),
        (lambda c: (c / "optimizer.json").write_text("{"), "optimizer.json cannot be read"),
        (lambda c: (c / "trainer_state.json").write_text("{}"), "names no step"),
    ],
)
def test_damaged_latest_checkpoint_falls_back_to_the_previous(tmp_path, damage, said) -> None:
    older = _checkpoint(tmp_path, 2)
    newest = _checkpoint(tmp_path, 4)
    damage(newest)
    assert said in checkpoint_problem(newest)
    found, skipped = newest_usable_checkpoint(tmp_path)
    assert found == older
    assert [(p.name, said in why) for p, why in skipped] == [("step-00000004", True)]


def test_resume_names_the_checkpoint_passed_over(tmp_path, caplog) -> None:
    _checkpoint(tmp_path, 2)
    _truncate(_checkpoint(tmp_path, 4) / "model.safetensors")
    with caplog.at_level(logging.WARNING, logger="bittrain.trainer.setup"):
        found = resume_point(tmp_path, True, announce=True)
    assert found is not None and found.name == "step-00000002"
    warning = caplog.text
    assert "step-00000004" in warning and "truncated" in warning and "from step-00000002" in warning


def test_resume_with_only_damaged_checkpoints_says_a_fix_that_works(tmp_path) -> None:
    _truncate(_checkpoint(tmp_path, 2) / "optimizer.safetensors")
    before = _snapshot(tmp_path)
    with pytest.raises(BittrainError, match=r"no checkpoint .* can be resumed from") as caught:
        resume_point(tmp_path, True)
    assert "step-00000002: optimizer.safetensors is truncated" in str(caught.value)
    assert "--overwrite" in str(caught.value)
    assert _snapshot(tmp_path) == before


def test_a_resume_past_damaged_checkpoints_removes_them(tmp_path) -> None:
    _checkpoint(tmp_path, 2)
    (_checkpoint(tmp_path, 4) / "trainer_state.json").unlink()  # not even "complete"
    _checkpoint(tmp_path, 6)
    remove_checkpoints_after(tmp_path, 2)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000002"]


# -- a folder holding a run ---------------------------------------------------------------------


def test_a_fresh_start_into_an_empty_or_foreign_folder_is_fine(tmp_path) -> None:
    assert resume_point(tmp_path / "new", False) is None
    (tmp_path / "mine.txt").write_text("not a run")
    assert resume_point(tmp_path, False) is None


@pytest.mark.parametrize("left", ["model", "metrics.jsonl", "eval", "config.toml"])
def test_a_finished_or_half_finished_run_is_refused_without_overwrite(tmp_path, left) -> None:
    (tmp_path / left).mkdir() if "." not in left else (tmp_path / left).write_text("x")
    with pytest.raises(BittrainError, match="already holds a run") as caught:
        resume_point(tmp_path, False)
    message = str(caught.value)
    assert left in message and "--overwrite" in message and "another --out" in message
    assert "--resume" not in message  # no checkpoint: resuming would not work
    assert resume_point(tmp_path, False, overwrite=True) is None


def test_a_run_with_a_checkpoint_suggests_resume(tmp_path) -> None:
    _checkpoint(tmp_path, 2)
    with pytest.raises(BittrainError, match="continue it from step-00000002 with --resume"):
        resume_point(tmp_path, False)


def test_resume_of_a_finished_run_without_checkpoints(tmp_path) -> None:
    (tmp_path / "model").mkdir()
    with pytest.raises(BittrainError, match="finished model but no checkpoint") as caught:
        resume_point(tmp_path, True)
    assert "--overwrite" in str(caught.value)


def test_resume_and_overwrite_together_are_refused(tmp_path) -> None:
    with pytest.raises(BittrainError, match="give one of them"):
        resume_point(tmp_path, True, overwrite=True)


def test_clear_run_removes_only_what_a_run_writes(tmp_path) -> None:
    for name in RUN_ENTRIES:
        (tmp_path / name).mkdir() if "." not in name else (tmp_path / name).write_text("x")
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "data").mkdir()
    assert sorted(clear_run(tmp_path)) == sorted(RUN_ENTRIES)
    assert run_entries(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_overwrite_refuses_inputs_inside_the_run_it_replaces(tmp_path) -> None:
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "table").mkdir()
    with pytest.raises(BittrainError, match=r"--init .* lies in the run that --overwrite replaces"):
        check_overwrite_inputs(run, {"--init": str(run), "--table": None})
    with pytest.raises(BittrainError, match="--table"):
        check_overwrite_inputs(run, {"--table": str(run / "table")})
    check_overwrite_inputs(run, {"--init": str(tmp_path / "other"), "--corpus": "hf://x/y"})


# -- what resume compares -----------------------------------------------------------------------


def test_resume_ignores_the_folder_and_the_device_but_not_the_run() -> None:
    saved = TrainConfig(corpus="c.zarr", out="runs/a", device="cpu")
    moved = saved.replace(out="runs/b", device="auto")
    assert config_changes(saved, moved) == {}
    assert config_changes(saved, saved.replace(corpus="./c.zarr")) == {}
    changed = config_changes(saved, moved.replace(lr=saved.lr * 2))
    assert list(changed) == ["lr"]
