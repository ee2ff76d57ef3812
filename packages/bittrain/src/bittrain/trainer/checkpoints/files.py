"""Checkpoints: atomic directories ``RUN/checkpoints/step-NNNNNNNN/``, the newest k kept.

Nothing here needs pickle: tensors go to safetensors, everything else to JSON. A checkpoint is
written into a temporary sibling directory and renamed into place only when complete, so a run
killed at any moment leaves either the previous checkpoint or the new one, never half of one.
``trainer_state.json`` is written last; a directory without it is not a checkpoint.

Resuming takes the newest checkpoint that is whole (:func:`newest_usable_checkpoint`): every
file it needs is there, every safetensors file has the size its header promises and every JSON
file parses. A damaged one (a truncated copy, a lost file) is passed over for the one before.

Layout of one checkpoint (written by the loop through :func:`write_checkpoint`):

    model.safetensors + config.json   the task's save_pretrained of the model
    optimizer.safetensors             optimizer tensors (AdamW moments and step counts)
    optimizer.json                    the rest of the optimizer state (param groups, key kinds)
    rng.safetensors                   torch RNG state of every rank (rank_R.cpu, rank_R.cuda)
    trainer_state.json                step, data position, scheduler, curriculum state, timing
    config.toml                       the resolved training config
    task/                             the task's own state (encoding table, boundary model...)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bittrain import fileio

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
MODEL_WEIGHTS = "model.safetensors"
OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_META = "optimizer.json"
RNG_FILE = "rng.safetensors"
# What resuming reads from every checkpoint (the task's own files under task/ are checked by
# kind: safetensors and JSON).
REQUIRED_FILES = (STATE_FILE, MODEL_WEIGHTS, OPTIMIZER_TENSORS, OPTIMIZER_META, RNG_FILE)
_NAME = re.compile(r"^step-(\d{8,})$")


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


def checkpoints_dir(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINTS


def step_dirs(run_dir: Path) -> list[tuple[int, Path]]:
    """Every ``step-NNNNNNNN`` folder of a run, complete or not, oldest first."""
    root = checkpoints_dir(run_dir)
    if not root.is_dir():
        return []
    found = []
    for entry in root.iterdir():
        match = _NAME.match(entry.name)
        if match and entry.is_dir():
            found.append((int(match.group(1)), entry))
    return sorted(found)


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run (``trainer_state.json`` written), oldest first."""
    return [(step, path) for step, path in step_dirs(run_dir) if (path / STATE_FILE).is_file()]


def checkpoint_problem(ckpt: Path) -> str | None:
    """Why ``ckpt`` cannot be resumed from (a file missing, truncated or unreadable), or None."""
    for name in REQUIRED_FILES:
        if not (ckpt / name).is_file():
            return f"{name} is missing"
    for path in sorted(ckpt.rglob("*.safetensors")):
        problem = fileio.safetensors_problem(path)
        if problem is not None:
            return problem.replace(path.name, str(path.relative_to(ckpt)), 1)
    for path in sorted(ckpt.rglob("*.json")):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return f"{path.relative_to(ckpt)} cannot be read ({type(exc).__name__})"
    state = json.loads((ckpt / STATE_FILE).read_text(encoding="utf-8"))
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        return f"{STATE_FILE} names no step"
    return None


def newest_usable_checkpoint(run_dir: Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest checkpoint that can be resumed from (None: none can), and the newer ones
    passed over with what is wrong with each."""
    skipped: list[tuple[Path, str]] = []
    for _, path in reversed(step_dirs(run_dir)):
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append((path, problem))
    return None, skipped


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_checkpoint(run_dir: Path, step: int, fill: Callable[[Path], None], keep: int) -> Path:
    """Create ``checkpoints/step-NNNNNNNN`` atomically: ``fill(tmp_dir)`` writes the files.

    ``fill`` must write ``trainer_state.json`` (it marks the checkpoint complete). Older
    checkpoints beyond the newest ``keep`` are removed afterwards.
    """
    root = checkpoints_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(step)
    tmp = root / f".tmp-{checkpoint_name(step)}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        fill(tmp)
        if not (tmp / STATE_FILE).is_file():
            raise RuntimeError(f"checkpoint writer did not write {STATE_FILE}")
        for path in tmp.rglob("*"):
            if path.is_file():
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
        if final.exists():  # a rerun of the same step (after a restart): replace it
            old = root / f".old-{final.name}-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune_checkpoints(run_dir, keep)
    return final


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints; also remove leftovers of interrupted writes."""
    root = checkpoints_dir(run_dir)
    found = list_checkpoints(run_dir)
    for _, path in found[: max(len(found) - keep, 0)]:
        shutil.rmtree(path, ignore_errors=True)
    for entry in root.glob(".tmp-step-*"):
        shutil.rmtree(entry, ignore_errors=True)
    for entry in root.glob(".old-step-*"):
        shutil.rmtree(entry, ignore_errors=True)


def remove_checkpoints_after(run_dir: Path, step: int) -> None:
    """Drop checkpoints newer than ``step`` (used when a run restarts from an older one),
    damaged ones included (a resume passed over them; the run writes those steps again)."""
    for found_step, path in step_dirs(run_dir):
        if found_step > step:
            shutil.rmtree(path, ignore_errors=True)


# -- JSON and tensors ----------------------------------------------------------------------------


DAMAGED = "the checkpoint is damaged, use an older one"


def write_json_atomic(path: Path, obj: Any) -> None:
    fileio.write_json_atomic(path, obj, sort_keys=True)


def read_json(path: Path) -> Any:
    return fileio.read_json(path, fix=DAMAGED)


def save_tensors(path: Path, tensors: dict[str, Any]) -> None:
    fileio.save_tensors(path, tensors)


def load_tensors(path: Path) -> dict[str, Any]:
    return fileio.load_tensors(path, fix=DAMAGED)


# -- optimizer state without pickle --------------------------------------------------------------


def flatten_optimizer_state(state_dict: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split an optimizer ``state_dict()`` into safetensors-able tensors and JSON metadata.

    Keys of ``state`` are parameter indices (plain optimizers) or parameter names (the
    ``torch.distributed.checkpoint.state_dict`` form); both round-trip.
    """
    tensors: dict[str, Any] = {}
    keys: list[list[Any]] = []
    scalars: dict[str, dict[str, Any]] = {}
    for key, entry in state_dict["state"].items():
        keys.append([key, "int" if isinstance(key, int) else "str"])
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state/{key}/{name}"] = value
            else:
                scalars.setdefault(str(key), {})[name] = value
    groups = []
    for group in state_dict["param_groups"]:
        groups.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items()})
    meta = {"format": 1, "keys": keys, "scalars": scalars, "param_groups": groups}
    return tensors, meta


def unflatten_optimizer_state(tensors: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[Any, dict[str, Any]] = {}
    for key, kind in meta["keys"]:
        real_key = int(key) if kind == "int" else str(key)
        entry = dict(meta["scalars"].get(str(key), {}))
        prefix = f"state/{key}/"
        for name, value in tensors.items():
            if name.startswith(prefix):
                entry[name[len(prefix) :]] = value
        state[real_key] = entry
    groups = []
    for group in meta["param_groups"]:
        group = dict(group)
        if "betas" in group and isinstance(group["betas"], list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}
