"""Saving and loading baseline models: config.json + model.safetensors (+ tokenizer.json).

Writes are atomic (temp file in the target directory, then os.replace), so a crash never
leaves a half-written model behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from bitbench.engine.modules import unwrap
from bitbench.errors import BitbenchError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
TOKENIZER_NAME = "tokenizer.json"


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json_atomic(path: Path, obj: Any) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")

    _atomic(Path(path), write)


def save_weights(model: torch.nn.Module, path: Path) -> None:
    state = {k: v.detach().to("cpu").contiguous() for k, v in unwrap(model).state_dict().items()}
    _atomic(Path(path), lambda tmp: save_file(state, tmp))


def read_config(directory: Path) -> dict[str, Any]:
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise BitbenchError(
            f"model directory '{directory}' has no {CONFIG_NAME}: pass a run's model/ directory"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BitbenchError(f"'{path}' is not valid JSON ({exc}): re-save the model") from exc
    if not isinstance(raw, dict) or "model_type" not in raw:
        raise BitbenchError(f"'{path}' has no model_type field: re-save the model")
    return raw


def load_weights(model: torch.nn.Module, directory: Path) -> None:
    path = Path(directory) / WEIGHTS_NAME
    if not path.is_file():
        raise BitbenchError(f"model directory '{directory}' has no {WEIGHTS_NAME}: re-save it")
    try:
        state = load_file(str(path))
        model.load_state_dict(state, strict=True)
    except (RuntimeError, OSError) as exc:
        raise BitbenchError(
            f"weights '{path}' do not fit the model in {CONFIG_NAME} ({str(exc)[:200]}): "
            "re-save the model"
        ) from exc
