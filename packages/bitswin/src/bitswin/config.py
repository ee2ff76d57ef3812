"""BitSwinConfig: the model's hyper-parameters, frozen and JSON-serialisable.

Stages, one entry per stage in `depths`, `widths`, `heads`, `windows`:

1. bits: one token per bit, attention inside each byte (window in bits, at most 8);
2. bytes: the 8 bit tokens of a byte merged into one byte token;
3. word units: bytes pooled at the level-1 router's unit starts (about `unit_targets[0]` bytes);
4. phrase units: word units pooled at the level-2 router's starts (`unit_targets[1]` words).

2, 3 or 4 stages. A stage with a coarser stage inside it is split into an encoder (its first
ceil(depth / 2) blocks) and a decoder (the rest) around it, as in H-Net and U-Nets; the
innermost stage runs all of its blocks at once. Windows are counted in each stage's own units.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from bittokens import DEFAULT_UNIT_BYTES

from bitswin.errors import BitswinError

MODEL_TYPE = "bitswin"
# 1: bitswin 0.1 (per-byte stages after an 8:1 merge); 2: the bits -> bytes -> words ->
# phrases hierarchy. checkpoint.py refuses configs of another format with a message.
FORMAT_VERSION = 2
ROUTERS = ("learned", "spacelike", "fixed", "none")
# What the level-1 router's prior (loss_weights.router_prior) pulls towards (bitswin.priors).
UNIT_PRIORS = ("spacelike", "scripts")
NGRAM_MAX_HASHES = 5  # hash functions per n-gram size (bitswin.ngrams has this many multipliers)
NGRAM_MAX_SIZE = 16
BIAS_INITS = ("slopes", "neighbours")
DEFAULT_UNIT_TARGETS = (DEFAULT_UNIT_BYTES, 3.0)  # bytes per word unit, word units per phrase unit
Router = Literal["learned", "spacelike", "fixed", "none"]
# The presets' fields over the dataclass defaults (which are `tiny`'s).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {},
    "base": {"depths": (1, 4, 4, 6), "widths": (64, 192, 384, 384), "heads": (2, 6, 12, 24),
             "windows": (8, 24, 48, 24)},
    "large": {"depths": (2, 4, 6, 12), "widths": (64, 384, 768, 768), "heads": (2, 6, 12, 24),
              "windows": (8, 24, 48, 48)},
}  # fmt: skip


def _unknown_key_error(key: str, valid: list[str], where: str) -> BitswinError:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(sorted(valid))}"
    return BitswinError(f"unknown key '{key}' in {where}: {hint}")


@dataclass(frozen=True)
class LossWeights:
    """Weight of each task in the total loss (0 switches a task off).

    `ratio` is H-Net's auxiliary loss that holds the mean unit length at its target (learned
    router only); `router_prior` pulls the level-1 router's probability towards SpaceByte's
    rule on the true bytes (a bootstrap for short runs; 0 = the router is left to the ratio
    loss and the gradient through the upsampling alone).
    """

    bit: float = 0.25
    byte: float = 1.0
    replaced: float = 0.0
    structural: float = 0.1
    ratio: float = 0.03
    router_prior: float = 0.1

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LossWeights:
        valid = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key == "boundary":
                raise BitswinError(
                    "loss_weights.boundary is gone: the router's unit-start probability replaced "
                    "the surprisal boundary head (bitswin 0.2); remove the key"
                )
            if key not in valid:
                raise _unknown_key_error(key, valid, "loss_weights")
        weights = cls(**{k: float(v) for k, v in data.items()})
        for name, value in weights.to_dict().items():
            if value < 0:
                raise BitswinError(f"loss_weights.{name} is {value}: use a weight >= 0")
        return weights


@dataclass(frozen=True)
class BitSwinConfig:
    """Hyper-parameters of BitSwinModel. The defaults are the `tiny` preset."""

    depths: tuple[int, ...] = (1, 3, 2, 2)
    widths: tuple[int, ...] = (32, 128, 128, 128)
    heads: tuple[int, ...] = (2, 4, 4, 4)
    # Per stage, in the stage's own units: bits (<= 8, inside a byte), bytes, word units,
    # phrase units.
    windows: tuple[int, ...] = (8, 16, 16, 16)
    # Legacy (bitswin 0.1): windows in bits. When given it replaces `windows`: stage 1 as is,
    # stage 2 in bytes (/8), later stages in units (/8 / the unit targets). Saved as null.
    windows_bits: tuple[int, ...] | None = None
    mlp_ratio: float = 4.0
    bit_mlp_ratio: float = 2.0
    # Run the bit stage once per distinct 8-id pattern in the batch and gather (same numbers,
    # a fraction of the cost; torch.unique makes a graph break under torch.compile).
    bit_unique: bool = True
    router: Router = "learned"
    # Items per unit wanted, per unit level (default DEFAULT_UNIT_TARGETS; extra entries unused)
    unit_targets: tuple[float, ...] | None = None
    # Unit slots per row: ceil(unit_cap * items / target); starts beyond it are merged away
    # (lowest router probability first).
    unit_cap: float = 1.5
    # Inside a run of hidden items, force a unit start every this many items (per level;
    # default: the rounded target), so a masked span never collapses into one unit.
    masked_chunk: tuple[int, ...] | None = None
    # Pad unit sequences to their cap (static shapes for torch.compile / CUDA graphs) instead
    # of trimming them to the longest row of the batch. Same outputs either way.
    static_units: bool = False
    # Initial relative-position bias: "slopes" (per head -s|d|, s in 1, 1/4, 1/16, .., 0, so a
    # wide window is used from step 0) or "neighbours" (bitswin 0.1: each head prefers one
    # neighbour at slope 1).
    bias_init: Literal["slopes", "neighbours"] = "slopes"
    dropout: float = 0.0
    attn_dropout: float = 0.0
    embed_init_std: float = 1.0
    # Learned absolute byte-position embedding of this many positions, added to the byte tokens
    # (0 = off; the relative bias inside windows is always on).
    absolute_positions: int = 0
    code_vocab_size: int = 0  # embeddings of encoding-table codes per byte (code_ids); 0 = off
    # Hashed byte n-gram embeddings added to each byte token (bitswin.ngrams): one table of
    # `ngram_buckets` rows per n in `ngram_sizes` and hash function; () = off.
    ngram_sizes: tuple[int, ...] = ()
    ngram_hashes: int = 1
    ngram_buckets: int = 4096
    # The level-1 router's prior: "spacelike" (SpaceByte: a unit at every UTF-8 lead byte and
    # after spacelike ASCII) or "scripts" (the same on spaced text; inside runs of CJK
    # characters no prior: the ratio loss sets the unit length there).
    unit_prior: str = "spacelike"
    layer_norm_eps: float = 1e-5
    loss_weights: LossWeights = field(default_factory=LossWeights)

    def __post_init__(self) -> None:
        for name in ("depths", "widths", "heads", "windows", "ngram_sizes"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(int(v) for v in value))
        # Entries past the model's unit levels are ignored (a preset's two targets stay valid
        # when `depths` is overridden to fewer stages).
        n_levels = max(len(self.depths) - 2, 0)
        if self.unit_targets is None:
            object.__setattr__(self, "unit_targets", DEFAULT_UNIT_TARGETS[:n_levels])
        else:
            targets = tuple(float(v) for v in self.unit_targets)[:n_levels]
            object.__setattr__(self, "unit_targets", targets)
        if self.masked_chunk is None:
            chunks = tuple(max(1, round(t)) for t in self.unit_targets)  # type: ignore[union-attr]
            object.__setattr__(self, "masked_chunk", chunks)
        else:
            chunks = tuple(int(v) for v in self.masked_chunk)[:n_levels]
            object.__setattr__(self, "masked_chunk", chunks)
        if isinstance(self.loss_weights, dict):
            object.__setattr__(self, "loss_weights", LossWeights.from_dict(self.loss_weights))
        if self.windows_bits is not None:
            object.__setattr__(self, "windows", self._windows_from_bits(tuple(self.windows_bits)))
            object.__setattr__(self, "windows_bits", None)
        self._validate()

    def _windows_from_bits(self, bits: tuple[int, ...]) -> tuple[int, ...]:
        if len(bits) != len(self.depths):
            raise BitswinError(
                f"windows_bits has {len(bits)} entries but depths has {len(self.depths)}: "
                "give one entry per stage (or use `windows`, in each stage's own units)"
            )
        out = [min(int(bits[0]), 8)]
        per_unit = 8.0  # bits per item of the stage
        for i, b in enumerate(bits[1:], start=1):
            if i >= 2 and self.router != "none":
                per_unit *= self.unit_targets[i - 2]  # type: ignore[index]
            out.append(max(2 if i >= 2 else 1, round(int(b) / per_unit)))
        return tuple(out)

    def _validate(self) -> None:
        n = len(self.depths)
        if not 2 <= n <= 4:
            raise BitswinError(
                f"depths has {n} stages: use 2 (bits, bytes), 3 (+ word units) or 4 "
                "(+ phrase units), e.g. depths=(1, 3, 2, 2)"
            )
        for name in ("widths", "heads", "windows"):
            if len(getattr(self, name)) != n:
                raise BitswinError(
                    f"{name} has {len(getattr(self, name))} entries but depths has {n}: "
                    "give one entry per stage"
                )
        for i, (d, w, h, win) in enumerate(
            zip(self.depths, self.widths, self.heads, self.windows, strict=True)
        ):
            if d < 1 or w < 1 or h < 1 or win < 1:
                raise BitswinError(f"stage {i + 1}: depth, width, heads and window must be >= 1")
            if w % h != 0:
                raise BitswinError(
                    f"stage {i + 1}: width {w} is not divisible by heads {h}: "
                    f"pick heads dividing the width (e.g. {_nearest_divisor(w, h)})"
                )
        if self.windows[0] not in (1, 2, 4, 8):
            raise BitswinError(
                f"windows[0] is {self.windows[0]}: the bit stage attends inside each byte, so its "
                "window must divide 8 bits (1, 2, 4 or 8)"
            )
        if self.router not in ROUTERS:
            raise BitswinError(f"router is {self.router!r}: use one of {', '.join(ROUTERS)}")
        levels = self.num_levels
        assert self.unit_targets is not None and self.masked_chunk is not None
        if len(self.unit_targets) != levels or len(self.masked_chunk) != levels:
            raise BitswinError(
                f"unit_targets {list(self.unit_targets)} / masked_chunk {list(self.masked_chunk)}"
                f" need one entry per unit level ({levels} with {n} stages)"
            )
        if any(t <= 1.0 for t in self.unit_targets):
            raise BitswinError(
                f"unit_targets {list(self.unit_targets)}: each target (items per unit) must be "
                "> 1, e.g. (5, 3): 5 bytes per word unit, 3 word units per phrase unit"
            )
        if any(k < 1 for k in self.masked_chunk):
            raise BitswinError(f"masked_chunk {list(self.masked_chunk)}: use values >= 1")
        if self.unit_cap < 1.0:
            raise BitswinError(
                f"unit_cap is {self.unit_cap}: use >= 1 (slots = unit_cap x items / target)"
            )
        if self.bias_init not in BIAS_INITS:
            raise BitswinError(f"bias_init is {self.bias_init!r}: use one of {BIAS_INITS}")
        if self.mlp_ratio <= 0 or self.bit_mlp_ratio <= 0:
            raise BitswinError("mlp_ratio and bit_mlp_ratio must be > 0")
        for name in ("dropout", "attn_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise BitswinError(f"{name} is {getattr(self, name)}: use a value in [0, 1)")
        if self.absolute_positions < 0 or self.code_vocab_size < 0:
            raise BitswinError("absolute_positions and code_vocab_size must be >= 0 (0 = off)")
        self._validate_memory()

    def _validate_memory(self) -> None:
        sizes = self.ngram_sizes
        if len(set(sizes)) != len(sizes) or any(not 1 <= n <= NGRAM_MAX_SIZE for n in sizes):
            raise BitswinError(
                f"ngram_sizes {list(sizes)}: give distinct sizes in 1..{NGRAM_MAX_SIZE}, e.g. "
                "[2, 3, 4, 5, 6, 7, 8] (or [] for none)"
            )
        if not 1 <= self.ngram_hashes <= NGRAM_MAX_HASHES or self.ngram_buckets < 1:
            raise BitswinError(
                f"ngram_hashes {self.ngram_hashes} / ngram_buckets {self.ngram_buckets}: use "
                f"1..{NGRAM_MAX_HASHES} hash functions and >= 1 bucket"
            )
        if self.unit_prior not in UNIT_PRIORS:
            raise BitswinError(
                f"unit_prior is {self.unit_prior!r}: use one of {', '.join(UNIT_PRIORS)}"
            )

    # ---- derived sizes -------------------------------------------------------------------
    @property
    def num_stages(self) -> int:
        return len(self.depths)

    @property
    def num_levels(self) -> int:
        """Unit levels above bytes (word units, phrase units): 0, 1 or 2."""
        return self.num_stages - 2

    @property
    def hierarchical(self) -> bool:
        """Coarse stages run on pooled units (False: router "none", every stage on bytes)."""
        return self.router != "none" and self.num_levels > 0

    def split(self, stage: int) -> tuple[int, int]:
        """(encoder blocks, decoder blocks) of stage `stage` (0-based; 0 is the bit stage)."""
        d = self.depths[stage]
        if stage == 0 or stage == self.num_stages - 1:
            return d, 0
        enc = math.ceil(d / 2)
        return enc, d - enc

    @property
    def ngram_parameters(self) -> int:
        """Parameters of the n-gram tables (memory: no multiply-adds)."""
        return len(self.ngram_sizes) * self.ngram_hashes * self.ngram_buckets * self.widths[1]

    @property
    def hidden_size(self) -> int:
        """Width of the final byte-level representation (`byte_hidden`)."""
        return self.widths[1]

    # ---- presets -------------------------------------------------------------------------
    @classmethod
    def tiny(cls, **overrides: Any) -> BitSwinConfig:
        """Trains in minutes on a CPU: a 32-wide bit stage, 128 wide above, 8 blocks."""
        return cls.preset("tiny", **overrides)

    @classmethod
    def base(cls, **overrides: Any) -> BitSwinConfig:
        """Appendix B's heads 2/6/12/24 and windows 8/24/48 in each stage's own units (bits,
        bytes ~ 24 bytes, word units ~ 240 bytes); its 96 does not fit the phrase stage of a
        512-byte row (~34 phrase units), which gets 24 (~360 bytes). Widths are multiples of
        the heads (192 = 6 x 32, 384 = 12 x 32 = 24 x 16)."""
        return cls.preset("base", **overrides)

    @classmethod
    def large(cls, **overrides: Any) -> BitSwinConfig:
        """Appendix B's heads, windows 8/24/48/48 (as `base`, for 1 KiB rows) at widths
        384/768/768 and a deep phrase stage."""
        return cls.preset("large", **overrides)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> BitSwinConfig:
        """The preset ``name`` (tiny | base | large) with ``overrides`` of its fields;
        ``loss_weights`` overrides merge into the preset's weights. Unknown names and keys are
        errors naming the closest valid one."""
        if name not in PRESETS:
            close = difflib.get_close_matches(name, PRESETS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise BitswinError(f"preset '{name}' is unknown{hint}: use one of {', '.join(PRESETS)}")
        base = cls(**PRESETS[name]).to_dict()
        base.pop("model_type", None)
        for key in overrides:
            if key not in base:
                raise _unknown_key_error(key, list(base), f"the {name} preset")
        merged = {**base, **overrides}
        if isinstance(overrides.get("loss_weights"), dict):
            merged["loss_weights"] = {**base["loss_weights"], **overrides["loss_weights"]}
        return cls.from_dict(merged)

    # ---- JSON ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"model_type": MODEL_TYPE, "format_version": FORMAT_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "windows_bits":
                data[f.name] = None  # folded into `windows` at construction
                continue
            if isinstance(value, LossWeights):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            data[f.name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BitSwinConfig:
        if not isinstance(data, dict):
            raise BitswinError(f"a BitSwinConfig needs a JSON object, got {type(data).__name__}")
        data = dict(data)
        model_type = data.pop("model_type", MODEL_TYPE)
        if model_type != MODEL_TYPE:
            raise BitswinError(
                f"config has model_type '{model_type}', expected '{MODEL_TYPE}': "
                "this is not a bitswin model"
            )
        version = data.pop("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise BitswinError(
                f"config has format_version {version}, this bitswin reads {FORMAT_VERSION}: "
                "use the bitswin version that wrote it"
            )
        valid = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in valid:
                raise _unknown_key_error(key, valid, "BitSwinConfig")
        try:
            return cls(**data)
        except BitswinError:
            raise
        except (TypeError, ValueError) as exc:  # wrong value types, e.g. a string for a tuple
            raise BitswinError(f"BitSwinConfig: {exc}: check the value types") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BitSwinConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BitswinError(f"BitSwinConfig JSON is invalid: {exc}") from exc
        return cls.from_dict(data)


def _nearest_divisor(width: int, heads: int) -> int:
    divisors = [d for d in range(1, width + 1) if width % d == 0]
    return min(divisors, key=lambda d: (abs(d - heads), d))
