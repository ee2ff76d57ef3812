"""Saving and loading baseline models: config.json + model.safetensors (+ tokenizer.json).

The models are ``huggingface_hub.PyTorchModelHubMixin`` s through ``BaselineHubMixin`` (bitswin's
``SafetensorsHubMixin`` with bitbench's config and errors): ``ByteMLM.from_pretrained(folder or
"org/name")``, ``save_pretrained``, ``push_to_hub``; config.json names the architecture
(``"architectures": ["ByteMLM"]``) beside ``model_type``. Writes are atomic (temp file in the
target directory, then os.replace), so a crash never leaves a half-written model behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from bitswin.hub import HUB_KEYS, SafetensorsHubMixin, hub_metadata, read_config_json
from safetensors.torch import load_file, save_file

from bitbaselines.config import (
    BPE_PRESETS,
    BYTE_PRESETS,
    BpeMLMConfig,
    ByteMLMConfig,
    config_from_dict,
    config_to_dict,
)
from bitbaselines.errors import BitbaselinesError
from bitbaselines.version import __version__

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
TOKENIZER_NAME = "tokenizer.json"


def read_config(directory: Path) -> dict[str, Any]:
    """config.json as written, ``architectures`` included (it tells Hugging Face folders apart);
    the config classes get it through ``BaselineHubMixin`` without the Hub's keys."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise BitbaselinesError(
            f"model directory '{directory}' has no {CONFIG_NAME}: pass a run's model/ directory"
        )
    raw = read_config_json(Path(directory), error=BitbaselinesError, drop_hub_keys=False)
    if "model_type" not in raw:
        raise BitbaselinesError(f"'{path}' has no model_type field: re-save the model")
    return raw


def load_weights(model: torch.nn.Module, directory: Path) -> None:
    path = Path(directory) / WEIGHTS_NAME
    if not path.is_file():
        raise BitbaselinesError(f"model directory '{directory}' has no {WEIGHTS_NAME}: re-save it")
    try:
        state = load_file(str(path))
        model.load_state_dict(state, strict=True)
    except (RuntimeError, OSError) as exc:
        raise BitbaselinesError(
            f"weights '{path}' do not fit the model in {CONFIG_NAME} ({str(exc)[:200]}): "
            "re-save the model"
        ) from exc


# model class name -> (model_type, config class, presets)
_MODEL_TYPES: dict[str, tuple[str, type, dict[str, dict[str, Any]]]] = {
    "ByteMLM": ("byte_mlm", ByteMLMConfig, BYTE_PRESETS),
    "BpeMLM": ("bpe_mlm", BpeMLMConfig, BPE_PRESETS),
}


class BaselineHubMixin(SafetensorsHubMixin, **hub_metadata("bitbaselines", "baseline")):
    """save_pretrained / from_pretrained / push_to_hub of the baseline models (their
    ``__init__`` takes the config dataclass). A BPE model's tokenizer.json is written beside it
    by the training task (``BpeTask.save_pretrained``) and read by ``load_baseline``."""

    _hub_error = BitbaselinesError
    _hub_version = __version__

    def hub_config(self) -> dict[str, Any]:
        return config_to_dict(self.config)  # type: ignore[attr-defined]

    def _write_weights(self, path: Path) -> None:
        state = {k: v.detach().to("cpu").contiguous() for k, v in self.state_dict().items()}  # type: ignore[attr-defined]
        save_file(state, str(path), metadata={"format": "pt", "bitbench_version": __version__})

    @classmethod
    def _load_directory(cls, directory: Path, map_location: Any, overrides: dict) -> Any:
        model_type, config_class, presets = _MODEL_TYPES[cls.__name__]
        raw = {k: v for k, v in read_config(directory).items() if k not in HUB_KEYS}
        if raw["model_type"] != model_type:
            raise BitbaselinesError(
                f"'{Path(directory) / CONFIG_NAME}' holds a {raw['model_type']!r} model, not "
                f"{cls.__name__} ({model_type!r}): load it with its own class"
            )
        model = cls(config_from_dict(config_class, {**raw, **overrides}, presets))
        load_weights(model, directory)  # type: ignore[arg-type]
        return model.to(map_location)
