"""save_pretrained / from_pretrained: config.json + model.safetensors, never pickle.

A new directory is written as a whole (temporary sibling directory, then rename); into an
existing directory (a trainer's checkpoint folder with other files) each file is replaced
atomically, weights first, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from bitswin import __version__
from bitswin.config import FORMAT_VERSION, BitSwinConfig
from bitswin.errors import BitswinError
from bitswin.window import interpolate_bias_table

if TYPE_CHECKING:
    from bitswin.model import BitSwinModel

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def _write_files(model: BitSwinModel, directory: Path) -> None:
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    weights_tmp = directory / f".{WEIGHTS_NAME}.tmp"
    save_file(state, str(weights_tmp), metadata={"format": "pt", "bitswin_version": __version__})
    os.replace(weights_tmp, directory / WEIGHTS_NAME)
    config_tmp = directory / f".{CONFIG_NAME}.tmp"
    config_tmp.write_text(model.config.to_json() + "\n", encoding="utf-8")
    os.replace(config_tmp, directory / CONFIG_NAME)


def save_pretrained(model: BitSwinModel, directory: str | Path) -> Path:
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise BitswinError(f"cannot save the model to '{directory}': it is a file, not a folder")
    if directory.is_dir():
        _write_files(model, directory)
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        _write_files(model, tmp)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def load_config(directory: str | Path) -> BitSwinConfig:
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise BitswinError(f"no model config at '{path}': pass a folder made by save_pretrained")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BitswinError(f"model config '{path}' is unreadable or not JSON: {exc}") from exc
    if isinstance(data, dict) and data.get("model_type", "bitswin") == "bitswin":
        version = data.get("format_version", 1)  # bitswin 0.1 wrote no format_version
        if version != FORMAT_VERSION:
            layout = (
                "bitswin 0.1's layout (per-byte stages after an 8:1 bit merge, windows_bits)"
                if version == 1
                else f"format {version}"
            )
            raise BitswinError(
                f"model '{path.parent}' has {layout}; this bitswin {__version__} reads format "
                f"{FORMAT_VERSION} (bits -> bytes -> learned word and phrase units) only: its "
                "weights do not map onto the new stages. Retrain it, or load it with bitswin 0.1"
            )
    try:
        return BitSwinConfig.from_dict(data)
    except BitswinError as exc:
        raise BitswinError(f"model config '{path}': {exc}") from exc


def load_pretrained(
    cls: type[BitSwinModel],
    directory: str | Path,
    map_location: str | torch.device,
    overrides: dict[str, Any],
) -> BitSwinModel:
    config = load_config(directory)
    if overrides:
        try:
            config = dataclasses.replace(config, **overrides)
        except TypeError as exc:
            raise BitswinError(f"from_pretrained overrides: {exc}") from exc
    path = Path(directory) / WEIGHTS_NAME
    if not path.is_file():
        raise BitswinError(f"no weights at '{path}': pass a folder made by save_pretrained")
    try:
        state = load_file(str(path), device=str(map_location))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BitswinError(f"model weights '{path}' are corrupt or unreadable: {exc}") from exc
    model = cls(config).to(map_location)
    load_state(model, state, str(path))
    return model


def load_state(model: BitSwinModel, state: dict[str, torch.Tensor], source: str) -> None:
    """Strict load; relative-bias tables of another window size are interpolated (logged)."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise BitswinError(
            f"weights '{source}' do not fit this config: missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}: load them with the config.json saved beside them"
        )
    fixed: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        target = own[name]
        if tensor.shape != target.shape:
            if name.endswith("rel_bias") and tensor.shape[1] == target.shape[1]:
                window = (target.shape[0] + 1) // 2
                logger.info(
                    "interpolating %s from %d to %d offsets", name, tensor.shape[0], target.shape[0]
                )
                tensor = interpolate_bias_table(tensor, window)
            else:
                raise BitswinError(
                    f"weights '{source}': {name} has shape {tuple(tensor.shape)}, this config "
                    f"needs {tuple(target.shape)}: load with the config.json saved beside them"
                )
        fixed[name] = tensor
    model.load_state_dict(fixed, strict=True)
