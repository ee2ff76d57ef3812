"""BitSwinConfig: presets, JSON round trip, clear errors."""

from __future__ import annotations

import json

import pytest
from bitswin import BitSwinConfig, BitswinError, LossWeights, estimate_flops_per_byte


@pytest.mark.parametrize("preset", ["tiny", "base", "large"])
def test_presets_round_trip_through_json(preset):
    config = getattr(BitSwinConfig, preset)()
    data = json.loads(config.to_json())
    assert data["model_type"] == "bitswin"
    assert BitSwinConfig.from_dict(data) == config
    assert BitSwinConfig.from_json(config.to_json()) == config


def test_base_is_appendix_b_with_dividing_heads():
    config = BitSwinConfig.base()
    assert config == BitSwinConfig()
    assert config.windows_bits == (8, 24, 48, 96)
    assert [config.window_tokens(i) for i in range(4)] == [8, 3, 6, 12]
    assert all(w % h == 0 for w, h in zip(config.widths, config.heads, strict=True))
    assert BitSwinConfig.large().heads == (2, 6, 12, 24)


def test_unknown_key_names_the_closest_valid_one():
    data = BitSwinConfig.tiny().to_dict()
    data["widht"] = 3
    with pytest.raises(BitswinError, match=r"'widht'.*'widths'"):
        BitSwinConfig.from_dict(data)
    with pytest.raises(BitswinError, match=r"'byt'.*'byte'"):
        BitSwinConfig.from_dict({"loss_weights": {"byt": 1.0}})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"heads": (2, 6, 12, 24)}, "not divisible by heads"),
        ({"windows_bits": (8, 20, 48, 96)}, "multiple of 8"),
        ({"depths": (1, 1)}, "one entry per stage"),
        ({"dropout": 1.5}, "dropout"),
        ({"loss_weights": {"bit": -1}}, "loss_weights.bit"),
    ],
)
def test_bad_values_raise(overrides, message):
    with pytest.raises(BitswinError, match=message):
        BitSwinConfig(**overrides)


def test_other_model_type_is_refused():
    with pytest.raises(BitswinError, match="model_type"):
        BitSwinConfig.from_dict({"model_type": "bert"})
    with pytest.raises(BitswinError, match="JSON"):
        BitSwinConfig.from_json("{not json")


def test_loss_weights_from_dict():
    config = BitSwinConfig.from_dict({"loss_weights": {"boundary": 0.0}})
    assert config.loss_weights == LossWeights(boundary=0.0)


def test_flops_per_byte_counts_by_hand():
    # One stage, one block, width 8, window 8 bits, mlp 4: per bit token
    # 2*(4*64 + 2*8*32) + 4*8*8 = 1536 + 256 = 1792; 8 bits/byte -> 14336.
    config = BitSwinConfig(depths=(1,), widths=(8,), heads=(1,), windows_bits=(8,))
    merge = 2 * (64 * 32 + 32 * 8)  # MLP 64 -> 32 -> 8
    heads = 2 * 8 * 270 + 2 * 8 * 64 + 8 * (2 * 64 + 16)
    assert estimate_flops_per_byte(config, 16) == 14336 + merge + heads
    # A sequence that does not fill its window pays for the whole window.
    assert estimate_flops_per_byte(config, 1) == estimate_flops_per_byte(config, 16)
    base = BitSwinConfig.base()
    assert estimate_flops_per_byte(base, 4096) == pytest.approx(
        estimate_flops_per_byte(base, 8192), rel=1e-3
    )
