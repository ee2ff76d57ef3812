"""Configurations of the two baselines: frozen dataclasses, presets, dict round trips.

``[model]`` tables from a training config arrive as plain dicts: ``preset`` picks a size and
every other key overrides one field; unknown keys are a BitbaselinesError naming the key and the
keys that exist.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from bitswin import BitSwinConfig

from bitbaselines.errors import BitbaselinesError

# Byte ids: 0..255 are the bytes themselves.
BYTE_MASK_ID = 256
BYTE_PAD_ID = 257
BYTE_VOCAB_SIZE = 258


@dataclass(frozen=True)
class ByteMLMConfig:
    """Byte-level masked LM with local (banded) attention: each byte sees +-window bytes."""

    d_model: int = 128
    n_layers: int = 7
    n_heads: int = 4
    ffn_mult: int = 4
    window: int = 64
    dropout: float = 0.0
    # Small embedding init keeps the position signal audible (DESIGN.md, the unigram plateau).
    embed_init_std: float = 0.02
    mask_rate: float = 0.15
    lr: float | None = None  # informational: the trainer owns the optimiser
    max_feature_bytes: int = 2048
    model_type: str = "byte_mlm"


@dataclass(frozen=True)
class BpeMLMConfig:
    """BERT-style masked LM over byte-level BPE tokens with full attention (the shared fields
    mean what they mean in ByteMLMConfig)."""

    vocab_size: int = 8192
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 4
    ffn_mult: int = 4
    max_positions: int = 512
    dropout: float = 0.0
    embed_init_std: float = 0.02
    mask_rate: float = 0.15
    # Unused since the reference BPE (the train split's first 32 MiB); kept so that
    # config.json files of older runs still load.
    tokenizer_sample_bytes: int = 4_000_000
    # Mean bytes per token of the tokenizer on its training sample (set when it is trained);
    # used to turn per-token FLOPs into per-byte FLOPs.
    bytes_per_token: float = 3.2
    lr: float | None = None
    model_type: str = "bpe_mlm"


# Presets share the trainer's names (model_preset) and sit near bitswin's preset of the same
# name in forward FLOPs per byte (bitswin.estimate_flops_per_byte at 256-byte windows: tiny
# 3.6M, base 9.6M, large 44M; BPE at 3.2 bytes per token). README's table has the numbers.
BYTE_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {},  # 3.5M FLOPs/byte
    "base": {"d_model": 224, "n_layers": 7, "n_heads": 4},  # 9.8M
    "large": {"d_model": 512, "n_layers": 7, "n_heads": 8},  # 47M
}
BPE_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {},  # 3.4M FLOPs/byte
    "base": {"d_model": 384, "n_layers": 7, "n_heads": 6},  # 10M
    "large": {"d_model": 768, "n_layers": 9, "n_heads": 12},  # 44M
}

C = TypeVar("C", ByteMLMConfig, BpeMLMConfig)


def config_from_dict(cls: type[C], raw: dict[str, Any], presets: dict[str, dict[str, Any]]) -> C:
    """Build ``cls`` from a preset name (key ``preset``) plus field overrides."""
    raw = dict(raw)
    preset = raw.pop("preset", "tiny")
    if preset not in presets:
        raise BitbaselinesError(
            f"model preset {preset!r} is unknown for {cls.__name__}: use one of {sorted(presets)}"
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = dict(presets[preset])
    for key, value in raw.items():
        if key not in fields:
            if key in _bitswin_fields():
                raise BitbaselinesError(
                    f"model key {key!r} is a bitswin setting, not one of {cls.__name__}'s (a "
                    "[model_config] written for bitswin, e.g. in a shipped config): use "
                    "`bitlab baseline train`, which drops it, or remove it from the config"
                )
            raise BitbaselinesError(
                f"model key {key!r} is unknown for {cls.__name__}: use one of {sorted(fields)}"
            )
        values[key] = value
    expected = cls.model_type
    if "model_type" in values and values["model_type"] != expected:
        raise BitbaselinesError(
            f"model_type {values['model_type']!r} does not match {cls.__name__}: "
            f"expected {expected!r}"
        )
    config = cls(**values)
    _check(config)
    return config


def _bitswin_fields() -> set[str]:
    return {f.name for f in dataclasses.fields(BitSwinConfig)}


def _check(config: ByteMLMConfig | BpeMLMConfig) -> None:
    if config.d_model % config.n_heads:
        raise BitbaselinesError(
            f"d_model {config.d_model} is not divisible by n_heads {config.n_heads}: "
            "choose sizes where it is"
        )
    if not 0.0 < config.mask_rate < 1.0:
        raise BitbaselinesError(f"mask_rate {config.mask_rate} is outside (0, 1): use e.g. 0.15")
    if isinstance(config, ByteMLMConfig) and config.window < 1:
        raise BitbaselinesError(f"window {config.window} must be at least 1 byte")
    if isinstance(config, BpeMLMConfig) and config.vocab_size < 260:
        raise BitbaselinesError(
            f"vocab_size {config.vocab_size} is too small: byte-level BPE needs at least 260 "
            "(256 bytes + specials)"
        )


def config_to_dict(config: ByteMLMConfig | BpeMLMConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)
