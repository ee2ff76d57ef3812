"""The baselines on huggingface_hub's PyTorchModelHubMixin (bitswin.hub.SafetensorsHubMixin):
Hub-ready folders naming the architecture, round trips, folders of older versions, errors."""

from __future__ import annotations

import json

import pytest
import torch
from bitbaselines import BpeMLM, BpeMLMConfig, ByteMLM, ByteMLMConfig
from bitbaselines.errors import BitbaselinesError
from huggingface_hub import ModelCard, PyTorchModelHubMixin

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
    assert ModelCard.load(folder / "README.md").data.library_name == "bitbaselines"
    loaded = cls.from_pretrained(folder)
    assert loaded.config == config and not loaded.training
    for name, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[name]), name


def test_wrong_class_and_missing_folders_are_clear_errors(tmp_path):
    folder = ByteMLM(TINY_BYTE).save_pretrained(tmp_path / "byte")
    with pytest.raises(BitbaselinesError, match="not BpeMLM"):
        BpeMLM.from_pretrained(folder)
    with pytest.raises(BitbaselinesError, match="not a folder"):
        ByteMLM.from_pretrained(tmp_path / "missing")
    with pytest.raises(BitbaselinesError, match="HF_HUB_OFFLINE"):
        ByteMLM.from_pretrained("bitlab/not-cached", cache_dir=tmp_path / "cache")
