"""A run directory's model loaded as an ``EvalModel``: ``load_run(run_dir)``.

``load_model`` asks the task-kind registry (:mod:`bittrain.engine.registry`, built-in kinds in
:mod:`bittrain.tasks`) which kind wrote ``RUN/model/config.json``'s ``model_type`` and lets that
kind load it. A model directory itself (with config.json) is accepted too. Reading the rest of a
run directory is :mod:`bittrain.rundir` (its names are re-exported here).
"""

from __future__ import annotations

from pathlib import Path

import torch

from bittrain.engine.contracts import EvalModel
from bittrain.engine.registry import kind_of_run
from bittrain.errors import BittrainError
from bittrain.rundir import (
    RunInfo,
    boundary_source,
    code_table_of,
    find_setting,
    inspect_run,
    is_hf_masked_lm,
    read_metrics_log,
    read_run_config,
    target_unit_bytes,
)

__all__ = [
    "EvalModel",
    "RunInfo",
    "boundary_source",
    "check_device",
    "code_table_of",
    "find_setting",
    "inspect_run",
    "is_hf_masked_lm",
    "load_model",
    "load_run",
    "read_metrics_log",
    "read_run_config",
    "resolve_device",
    "target_unit_bytes",
]


def load_run(run_dir: str | Path, *, device: str = "cpu") -> EvalModel:
    """The run's model as an EvalModel."""
    return load_model(inspect_run(run_dir), device=device)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; anything else as given."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def check_device(device: str) -> None:
    """A clear error for a device this machine does not have (instead of torch's traceback)."""
    try:
        dev = torch.device(resolve_device(device))
    except RuntimeError as exc:
        raise BittrainError(
            f"device '{device}' is not a torch device: use auto, cpu, cuda or cuda:N"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BittrainError(
            f"device '{device}' asked for but CUDA is not available here: use --device cpu"
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise BittrainError(
            f"device '{device}' does not exist: this machine has {torch.cuda.device_count()} GPU(s)"
        )


def load_model(info: RunInfo, *, device: str = "cpu") -> EvalModel:
    check_device(device)
    return kind_of_run(info).load_eval(info, resolve_device(device))
