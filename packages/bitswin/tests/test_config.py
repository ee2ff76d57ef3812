"""BitSwinConfig: presets, JSON round trip, legacy windows, clear errors."""

from __future__ import annotations

import json

import pytest
from bitswin import FORMAT_VERSION, BitSwinConfig, BitswinError, LossWeights


@pytest.mark.parametrize("preset", ["tiny", "base", "large"])
def test_presets_round_trip_through_json(preset):
    config = getattr(BitSwinConfig, preset)()
    data = json.loads(config.to_json())
    assert data["model_type"] == "bitswin"
    assert data["format_version"] == FORMAT_VERSION
    assert data["windows_bits"] is None  # folded into `windows`
    assert BitSwinConfig.from_dict(data) == config
    assert BitSwinConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("preset", ["tiny", "base", "large"])
def test_every_preset_alternates_shifted_windows_in_every_stage(preset):
    """Each stage above the bits has >= 2 blocks, so its windows shift at least once (the
    encoder and decoder of a stage continue one alternation); the bit stage's window covers
    its byte, which Swin never shifts."""
    config = getattr(BitSwinConfig, preset)()
    assert config.windows[0] == 8
    assert all(d >= 2 for d in config.depths[1:])
    assert config.num_stages == 4 and config.router == "learned"
    assert all(w % h == 0 for w, h in zip(config.widths, config.heads, strict=True))


def test_base_and_large_use_appendix_b_heads_and_windows():
    for config in (BitSwinConfig.base(), BitSwinConfig.large()):
        assert config.heads == (2, 6, 12, 24)
        assert config.windows[:3] == (8, 24, 48)


def test_legacy_windows_bits_are_converted_to_stage_units():
    config = BitSwinConfig(windows_bits=(8, 64, 256, 1024))
    assert config.windows == (8, 8, 6, 9)  # bits; 64/8 bytes; 256/8/5 words; 1024/8/15 phrases
    assert config.windows_bits is None
    per_byte = BitSwinConfig(windows_bits=(8, 64, 256, 1024), router="none")
    assert per_byte.windows == (8, 8, 32, 128)  # router "none": every stage counts bytes
    with pytest.raises(BitswinError, match="windows_bits has 2 entries"):
        BitSwinConfig(windows_bits=(8, 24))


def test_unknown_key_names_the_closest_valid_one():
    data = BitSwinConfig.tiny().to_dict()
    data["widht"] = 3
    with pytest.raises(BitswinError, match=r"'widht'.*'widths'"):
        BitSwinConfig.from_dict(data)
    with pytest.raises(BitswinError, match=r"'byt'.*'byte'"):
        BitSwinConfig.from_dict({"loss_weights": {"byt": 1.0}})
    with pytest.raises(BitswinError, match="boundary head"):
        BitSwinConfig.from_dict({"loss_weights": {"boundary": 0.1}})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"heads": (2, 6, 12, 24)}, "not divisible by heads"),
        ({"windows": (6, 16, 16, 16)}, "must divide 8 bits"),
        ({"depths": (1, 1)}, "one entry per stage"),
        ({"depths": (1,), "widths": (8,), "heads": (1,), "windows": (8,)}, "use 2"),
        ({"dropout": 1.5}, "dropout"),
        ({"loss_weights": {"bit": -1}}, "loss_weights.bit"),
        ({"router": "cosine"}, "router"),
        ({"unit_targets": (5.0,)}, "one entry per unit level"),
        ({"masked_chunk": (5,)}, "one entry per unit level"),
        ({"unit_targets": (1.0, 3.0)}, "must be > 1"),
        ({"unit_cap": 0.5}, "unit_cap"),
        ({"bias_init": "zeros"}, "bias_init"),
    ],
)
def test_bad_values_raise(overrides, message):
    with pytest.raises(BitswinError, match=message):
        BitSwinConfig(**overrides)


def test_other_model_type_or_format_is_refused():
    with pytest.raises(BitswinError, match="model_type"):
        BitSwinConfig.from_dict({"model_type": "bert"})
    with pytest.raises(BitswinError, match="format_version 1"):
        BitSwinConfig.from_dict({"format_version": 1})
    with pytest.raises(BitswinError, match="JSON"):
        BitSwinConfig.from_json("{not json")


def test_loss_weights_from_dict():
    config = BitSwinConfig.from_dict({"loss_weights": {"ratio": 0.0, "router_prior": 0.2}})
    assert config.loss_weights == LossWeights(ratio=0.0, router_prior=0.2)


def test_unit_settings_past_the_levels_are_unused():
    two = BitSwinConfig(
        depths=(1, 2),
        widths=(8, 16),
        heads=(2, 2),
        windows=(8, 4),
        unit_targets=(5.0, 3.0),
        masked_chunk=(5, 3),
    )
    assert two.unit_targets == () and two.masked_chunk == ()
    assert BitSwinConfig(unit_targets=(6.0, 2.0, 9.0)).unit_targets == (6.0, 2.0)


def test_encoder_decoder_split():
    config = BitSwinConfig(depths=(1, 3, 2, 2))
    assert [config.split(i) for i in range(4)] == [(1, 0), (2, 1), (1, 1), (2, 0)]
    assert BitSwinConfig(
        depths=(1, 1, 1), widths=(8,) * 3, heads=(1,) * 3, windows=(8, 2, 2)
    ).split(1) == (1, 0)
