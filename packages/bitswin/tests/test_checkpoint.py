"""save_pretrained / from_pretrained: bitwise round trip, atomic layout, clear errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from bitswin import BitswinError, BitSwinModel
from helpers import make_targets, text_bytes
from safetensors.torch import save_file


def _inputs():
    data = text_bytes()[:80].reshape(2, 40)
    hidden = torch.rand(data.shape, generator=torch.Generator().manual_seed(3)) < 0.2
    return make_targets(data, hidden)


def test_round_trip_gives_bitwise_equal_outputs(micro_config, tmp_path):
    torch.manual_seed(0)
    model = BitSwinModel(micro_config).eval()
    targets = _inputs()
    codes = torch.randint(-1, 11, targets.byte_targets.shape)
    before = model(targets.input_ids, targets=targets, code_ids=codes)
    path = model.save_pretrained(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    assert json.loads((path / "config.json").read_text())["model_type"] == "bitswin"
    loaded = BitSwinModel.from_pretrained(path).eval()
    after = loaded(targets.input_ids, targets=targets, code_ids=codes)
    assert loaded.config == micro_config
    for name in ("bit_logits", "byte_logits", "boundary", "replaced_logits", "byte_hidden"):
        assert torch.equal(getattr(before, name), getattr(after, name)), name
    for a, b in zip(before.unit_starts, after.unit_starts, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(before.loss, after.loss)
    # Saving into an existing folder keeps the other files there (a trainer's checkpoint).
    (path / "trainer_state.json").write_text("{}")
    model.save_pretrained(path)
    assert (path / "trainer_state.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_other_window_sizes_interpolate_the_bias_tables(micro_config, tmp_path):
    model = BitSwinModel(micro_config)
    model.save_pretrained(tmp_path / "m")
    wider = BitSwinModel.from_pretrained(tmp_path / "m", windows=(4, 7, 3, 4))
    assert wider.hierarchy.encoders[0].blocks[0].attn.rel_bias.shape == (13, 2)
    assert wider.hierarchy.encoders[2].blocks[0].attn.rel_bias.shape == (7, 2)
    out = wider(_inputs().input_ids)
    assert torch.isfinite(out.byte_logits).all()


def test_missing_and_corrupt_files_name_the_path(micro_config, tmp_path):
    with pytest.raises(BitswinError, match="not a folder"):
        BitSwinModel.from_pretrained(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BitswinError, match=r"config\.json"):
        BitSwinModel.from_pretrained(tmp_path / "empty")
    path = BitSwinModel(micro_config).save_pretrained(tmp_path / "m")
    (path / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(BitswinError, match=r"model\.safetensors"):
        BitSwinModel.from_pretrained(path)
    (path / "model.safetensors").unlink()
    with pytest.raises(BitswinError, match=r"model\.safetensors"):
        BitSwinModel.from_pretrained(path)
    (path / "config.json").write_text("{broken")
    with pytest.raises(BitswinError, match=r"config\.json"):
        BitSwinModel.from_pretrained(path)


def test_weights_of_another_config_are_refused(micro_config, tmp_path):
    path = BitSwinModel(micro_config).save_pretrained(tmp_path / "m")
    with pytest.raises(BitswinError, match="shape"):
        BitSwinModel.from_pretrained(path, widths=(8, 16, 32, 16), heads=(2, 2, 4, 2))
    other = dataclasses.replace(micro_config, code_vocab_size=0)
    (path / "config.json").write_text(other.to_json())
    with pytest.raises(BitswinError, match="unexpected"):
        BitSwinModel.from_pretrained(path)


def test_a_checkpoint_of_the_old_layout_fails_with_a_message_that_says_so(tmp_path):
    """bitswin 0.1 wrote config.json without format_version, with windows_bits, per-byte
    stages; such a folder must not load (its weights do not map onto the new stages)."""
    folder = tmp_path / "old"
    folder.mkdir()
    old = {
        "model_type": "bitswin",
        "depths": [1, 1, 1, 1],
        "widths": [64, 128, 128, 128],
        "heads": [2, 4, 4, 4],
        "windows_bits": [8, 64, 256, 1024],
        "mlp_ratio": 4.0,
        "loss_weights": {
            "bit": 1.0,
            "byte": 1.0,
            "replaced": 0.5,
            "structural": 0.2,
            "boundary": 0.1,
        },
    }
    (folder / "config.json").write_text(json.dumps(old))
    save_file({"embed.value.weight": torch.zeros(4, 64)}, str(folder / "model.safetensors"))
    with pytest.raises(BitswinError, match=r"bitswin 0\.1's layout.*format 2.*Retrain"):
        BitSwinModel.from_pretrained(folder)
