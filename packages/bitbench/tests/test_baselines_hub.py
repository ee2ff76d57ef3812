"""The baselines on huggingface_hub's PyTorchModelHubMixin (bitswin.hub.SafetensorsHubMixin):
Hub-ready folders naming the architecture, round trips, folders of older versions, errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from bitbench.baselines import BpeMLM, BpeMLMConfig, ByteMLM, ByteMLMConfig, load_baseline
from bitbench.baselines.tasks import ByteTask
from bitbench.errors import BitbenchError
from huggingface_hub import ModelCard, PyTorchModelHubMixin
from safetensors.torch import save_file

TINY_BYTE = ByteMLMConfig(d_model=32, n_layers=2, n_heads=2, window=8)
TINY_BPE = BpeMLMConfig(d_model=32, n_layers=2, n_heads=2, vocab_size=400, max_positions=64)


@pytest.mark.parametrize(("cls", "config"), [(ByteMLM, TINY_BYTE), (BpeMLM, TINY_BPE)])
def test_save_and_load_through_the_mixin(cls, config, tmp_path):
    torch.manual_seed(0)
    model = cls(config)
    assert isinstance(model, PyTorchModelHubMixin)
    folder = model.save_pretrained(tmp_path / "m")
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["README.md", "config.json", "model.safetensors"]
    saved = json.loads((folder / "config.json").read_text())
    assert saved["architectures"] == [cls.__name__]
    assert saved["model_type"] == config.model_type
    assert ModelCard.load(folder / "README.md").data.library_name == "bitbench"
    loaded = cls.from_pretrained(folder)
    assert loaded.config == config and not loaded.training
    for name, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[name]), name


def test_the_byte_task_writes_a_folder_load_baseline_reads(tmp_path):
    task = ByteTask(TINY_BYTE, seed=0)
    task.save_pretrained(task.model, tmp_path / "model")
    assert json.loads((tmp_path / "model" / "config.json").read_text())["architectures"] == [
        "ByteMLM"
    ]
    assert load_baseline(tmp_path / "model").kind == "byte"


def test_folders_without_architectures_still_load(tmp_path):
    """RUN/model of runs trained before the mixin: config.json is the bare config dict."""
    model = ByteMLM(TINY_BYTE)
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(TINY_BYTE)))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(tmp_path / "model.safetensors"))  # fmt: skip
    assert ByteMLM.from_pretrained(tmp_path).config == TINY_BYTE
    assert load_baseline(tmp_path).kind == "byte"


def test_wrong_class_and_missing_folders_are_clear_errors(tmp_path):
    folder = ByteMLM(TINY_BYTE).save_pretrained(tmp_path / "byte")
    with pytest.raises(BitbenchError, match="not BpeMLM"):
        BpeMLM.from_pretrained(folder)
    with pytest.raises(BitbenchError, match="not a folder"):
        ByteMLM.from_pretrained(tmp_path / "missing")
    with pytest.raises(BitbenchError, match="HF_HUB_OFFLINE"):
        ByteMLM.from_pretrained("bitlab/not-cached", cache_dir=tmp_path / "cache")
