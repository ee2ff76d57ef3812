"""How an ablation run trains: bittrain's config from the grid's config plus the run's changes,
checked before anything trains, and ``bittrain.run_training`` (resumed where a run was cut)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w
from bittrain import load_config, run_training
from bittrain.engine import check_spec
from bittrain.engine.registry import task_kinds, task_option_names
from bittrain.trainer.config import FIELD_NAMES, TABLE_KEYS, TOML_TABLE_NAMES, TrainConfig
from bittrain.trainer.launcher import LaunchOptions
from bittrain.trainer.setup import task_spec

from bitbench.ablation.grid import AblationGrid


def _toml_literal(value: Any) -> str:
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def override_strings(overrides: dict[str, Any]) -> list[str]:
    """``--set`` strings of flat dotted keys."""
    return [f"{key}={_toml_literal(value)}" for key, value in overrides.items()]


def has_setting(key: str) -> bool:
    """Whether the trainer knows ``key`` (a loop key, a table key, or a task option)."""
    head, dot, _ = key.partition(".")
    if dot:  # table contents are checked when the config is built
        return head in TOML_TABLE_NAMES or head in task_kinds()
    if key in FIELD_NAMES and key not in TABLE_KEYS:
        return True
    return any(key in task_option_names(kind) for kind in task_kinds())


def build_config(
    grid: AblationGrid, overrides: dict[str, Any], run_dir: Path, corpus: str | Path
) -> TrainConfig:
    """The run's TrainConfig, with its task's tables checked now (the trainer would only find a
    bad table key when the run starts)."""
    cfg = load_config(grid.config, override_strings(overrides), corpus=str(corpus),
                      out=str(run_dir))  # fmt: skip
    check_spec(task_spec(cfg, None, total_steps=cfg.max_steps))
    return cfg


def train_run(
    grid: AblationGrid,
    overrides: dict[str, Any],
    run_dir: Path,
    corpus: str | Path,
    *,
    launch: LaunchOptions | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one run (resuming it when checkpoints are there; an attempt that stopped before its
    first checkpoint is started again: the ablation owns its run folders); the trainer's
    result."""
    cfg = build_config(grid, overrides, run_dir, corpus)
    checkpoints = run_dir / "checkpoints"
    resume = checkpoints.is_dir() and any(checkpoints.iterdir())
    result = run_training(
        cfg, resume=resume, overwrite=not resume, launch=launch, progress=progress
    )
    return result.to_dict()
