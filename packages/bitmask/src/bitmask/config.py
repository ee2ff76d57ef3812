"""Configuration of the masks: rates, curriculum, spans, boundary source, corruption.

Defaults are the seed's appendix B (rates) and section 3.2 (curriculum: bit always; byte from
epoch 5, word from 15, phrase from 30, each ramping +0.01 per epoch from 0.15 up to its rate;
100 epochs). ``unit="step"`` expresses the same thresholds in optimizer steps;
``MaskConfig.for_steps`` / ``MaskConfig.compressed`` map the epoch curriculum proportionally onto
a run of a given number of steps, so a short run sees the same four phases, compressed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from bittokens import DEFAULT_UNIT_BYTES

from bitmask.errors import BitmaskError


class Level(str, Enum):  # noqa: UP042 (str() must stay "Level.BIT" for callers)
    """The four masking levels (str-valued: ``rates["byte"]`` and ``rates[Level.BYTE]`` agree)."""

    BIT = "bit"
    BYTE = "byte"
    WORD = "word"
    PHRASE = "phrase"


LEVELS: tuple[Level, ...] = (Level.BIT, Level.BYTE, Level.WORD, Level.PHRASE)

# Appendix B: allowed range of each level's rate.
RATE_RANGES: dict[Level, tuple[float, float]] = {
    Level.BIT: (0.05, 0.2),
    Level.BYTE: (0.1, 0.3),
    Level.WORD: (0.15, 0.35),
    Level.PHRASE: (0.2, 0.4),
}

BoundaryPrior = Literal["whitespace", "class"]
BOUNDARY_PRIORS: tuple[str, ...] = ("whitespace", "class")
UNIT_PLACEMENTS: tuple[str, ...] = ("boundaries", "random")
UNIT_CHOICES: tuple[str, ...] = ("uniform", "cohesion")
BYTE_UNITS: tuple[str, ...] = ("byte", "char")


def _check_range(name: str, value: float, low: float, high: float, fix: str = "") -> None:
    if not (low <= value <= high):
        raise BitmaskError(
            f"MaskConfig.{name} = {value!r} is outside its allowed range [{low}, {high}]"
            + (f": {fix}" if fix else f": choose a value in [{low}, {high}]")
        )


@dataclass(frozen=True)
class CorruptionConfig:
    """What is shown instead of the truth (targets always stay the true bytes).

    - ``bert``: BERT's 80/10/10 on the bytes hidden by the byte/word/phrase levels: of those,
      ``bert_mask`` are shown as MASK, ``bert_random`` as a uniformly random byte, the rest
      unchanged. They stay prediction targets (``MaskedBatch.predict_bytes``).
    - ``replace_rate``: ELECTRA-style replacement for the contrastive task: that fraction of the
      *not hidden* bytes (``replace_unit="byte"``) or of the units (``"unit"``, all visible bytes
      of a chosen unit) are shown as another byte, drawn from ``replace_source``: ``"row"`` (the
      sample's own byte distribution: a random valid byte of the same row; keeps masks
      independent of batch composition), ``"batch"`` (the byte distribution of the whole batch)
      or ``"predictions"`` (sampled from ``replacement_logits`` [B, L, 256] passed to
      ``make_masks``, e.g. a generator's byte head).
    """

    bert: bool = False
    bert_mask: float = 0.8
    bert_random: float = 0.1
    replace_rate: float = 0.0
    replace_unit: Literal["byte", "unit"] = "byte"
    replace_source: Literal["row", "batch", "predictions"] = "row"

    def __post_init__(self) -> None:
        for name in ("bert_mask", "bert_random", "replace_rate"):
            value = getattr(self, name)
            if not (0.0 <= value <= 1.0):
                raise BitmaskError(
                    f"CorruptionConfig.{name} = {value!r} is outside its allowed range [0, 1]: "
                    "choose a fraction in [0, 1]"
                )
        if self.bert_mask + self.bert_random > 1.0 + 1e-12:
            raise BitmaskError(
                f"CorruptionConfig.bert_mask + bert_random = {self.bert_mask + self.bert_random} "
                "exceeds 1: the two fractions share the hidden bytes (default 0.8 + 0.1)"
            )
        if self.replace_unit not in ("byte", "unit"):
            raise BitmaskError(
                f"CorruptionConfig.replace_unit = {self.replace_unit!r}: use 'byte' or 'unit'"
            )
        if self.replace_source not in ("row", "batch", "predictions"):
            raise BitmaskError(
                f"CorruptionConfig.replace_source = {self.replace_source!r}: "
                "use 'row', 'batch' or 'predictions'"
            )

    @property
    def active(self) -> bool:
        return self.bert or self.replace_rate > 0.0


@dataclass(frozen=True)
class MaskConfig:
    """Rates, curriculum and unit settings of the four masking levels.

    Rates (``*_rate``) are the caps the curriculum ramps to: the per-bit probability (bit), per-byte
    probability (byte), per-unit probability (word) and the expected fraction of units covered by
    phrase spans (phrase). ``*_start`` is when a level switches on, in ``unit``s (None: never);
    from then its rate is ``min(rate, ramp_from + (t - start) * ramp_per_unit)``.
    """

    bit_rate: float = 0.15
    byte_rate: float = 0.20
    word_rate: float = 0.25
    phrase_rate: float = 0.30
    unit: Literal["epoch", "step"] = "epoch"
    max_time: float = 100.0  # max epochs (or steps when unit="step")
    byte_start: float | None = 5.0
    word_start: float | None = 15.0
    phrase_start: float | None = 30.0
    ramp_from: float = 0.15
    ramp_per_unit: float = 0.01
    span_p: float = 0.2  # SpanBERT: phrase span length in units ~ Geometric(p), clipped to cap
    span_cap: int = 10
    boundaries: BoundaryPrior = "whitespace"  # prior used when make_masks gets no boundaries
    target_unit_bytes: float = (
        DEFAULT_UNIT_BYTES  # mean unit length when units come from model scores
    )
    mask_space_units: bool = False  # may word masks pick units made only of whitespace?
    # Once several levels are on, each window (sample) draws ONE of the active levels with
    # probability proportional to its weight, and only that level masks it; False stacks every
    # active level on every window (four levels at appendix-B rates then hide ~58% of bytes).
    level_mixture: bool = True
    mix_bit: float = 0.1
    mix_byte: float = 0.5
    mix_word: float = 0.2
    mix_phrase: float = 0.2
    # Hard-to-easy rates (Ankner et al. 2023): every level's cap moves linearly in time from its
    # ``*_rate`` at 0 to ``*_rate * rate_end_scale`` at ``max_time`` (1.0: constant caps).
    # byte_rate=0.3, rate_end_scale=0.5 is their 30% -> 15%.
    rate_end_scale: float = 1.0
    # Where the word units (and given phrase units) lie: "boundaries" as the boundary source
    # says; "random": each row's units laid out again in a random order, so the spans have
    # exactly the same lengths but fall anywhere (SpanBERT's control for whole-unit masks).
    unit_placement: Literal["boundaries", "random"] = "boundaries"
    # Which units the word level (and the phrase level on given phrase units) masks: "uniform"
    # (each with probability rate) or "cohesion" (rate x the row's maskable units, drawn
    # without replacement with weight exp(cohesion_strength * z), z the unit's standardised
    # cohesion: the mean join score of its inner character starts, ``make_masks(cohesion=)``).
    unit_choice: Literal["uniform", "cohesion"] = "uniform"
    cohesion_strength: float = 1.0
    # What the byte level draws: "byte" (each byte on its own) or "char" (each UTF-8 character
    # once, all of its bytes hidden together: the model learns to predict whole characters,
    # which is what scoring a hidden character (segmentation's PMI) asks of it).
    byte_unit: Literal["byte", "char"] = "byte"

    def __post_init__(self) -> None:
        for level in LEVELS:
            low, high = RATE_RANGES[level]
            _check_range(f"{level.value}_rate", getattr(self, f"{level.value}_rate"), low, high)
        if self.unit not in ("epoch", "step"):
            raise BitmaskError(f"MaskConfig.unit = {self.unit!r}: use 'epoch' or 'step'")
        if not self.max_time > 0:
            raise BitmaskError(f"MaskConfig.max_time = {self.max_time!r}: must be > 0")
        for name in ("byte_start", "word_start", "phrase_start"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise BitmaskError(
                    f"MaskConfig.{name} = {value!r}: must be >= 0 (or None to never use the level)"
                )
        _check_range("ramp_from", self.ramp_from, 0.0, 1.0)
        _check_range("ramp_per_unit", self.ramp_per_unit, 0.0, 1.0)
        if not (0.0 < self.span_p <= 1.0):
            raise BitmaskError(
                f"MaskConfig.span_p = {self.span_p!r} is outside its allowed range (0, 1]: "
                "SpanBERT uses 0.2"
            )
        if not (1 <= self.span_cap <= 256):
            raise BitmaskError(
                f"MaskConfig.span_cap = {self.span_cap!r} is outside its allowed range [1, 256]: "
                "SpanBERT uses 10"
            )
        if self.boundaries not in BOUNDARY_PRIORS:
            raise BitmaskError(
                f"MaskConfig.boundaries = {self.boundaries!r}: use one of {BOUNDARY_PRIORS}"
            )
        for level in LEVELS:
            weight = self.mix_weight(level)
            if not (0.0 <= weight <= 1e6):
                raise BitmaskError(
                    f"MaskConfig.mix_{level.value} = {weight!r}: a mixture weight must be >= 0"
                )
        if self.level_mixture and not any(self.mix_weight(level) > 0 for level in LEVELS):
            raise BitmaskError(
                "MaskConfig mixture weights are all 0: give some level a weight > 0 "
                "(mix_byte=0.5, ...) or set level_mixture=False"
            )
        _check_range(
            "rate_end_scale",
            self.rate_end_scale,
            0.05,
            2.0,
            "0.5 halves every rate over the run (Ankner et al.: 30% -> 15%), 1 = off",
        )
        for name, allowed in (
            ("unit_placement", UNIT_PLACEMENTS),
            ("unit_choice", UNIT_CHOICES),
            ("byte_unit", BYTE_UNITS),
        ):
            if getattr(self, name) not in allowed:
                raise BitmaskError(
                    f"MaskConfig.{name} = {getattr(self, name)!r}: use one of {allowed}"
                )
        _check_range("cohesion_strength", self.cohesion_strength, 0.0, 20.0)
        if not (1.0 <= self.target_unit_bytes <= 1024.0):
            raise BitmaskError(
                f"MaskConfig.target_unit_bytes = {self.target_unit_bytes!r} is outside its "
                "allowed range [1, 1024]: a word is about 5 bytes of English"
            )

    # -- conversions -----------------------------------------------------------------------------

    def rate(self, level: Level | str) -> float:
        return float(getattr(self, f"{Level(level).value}_rate"))

    def mix_weight(self, level: Level | str) -> float:
        return float(getattr(self, f"mix_{Level(level).value}"))

    def rate_at(self, level: Level | str, time: float) -> float:
        """The cap of ``level`` at ``time`` (``*_rate``, scaled by the hard-to-easy schedule)."""
        rate = self.rate(level)
        if self.rate_end_scale == 1.0:
            return rate
        done = min(max(float(time) / self.max_time, 0.0), 1.0)
        return rate * (1.0 + (self.rate_end_scale - 1.0) * done)

    def start(self, level: Level | str) -> float | None:
        level = Level(level)
        return 0.0 if level is Level.BIT else getattr(self, f"{level.value}_start")

    def compressed(self, total_steps: int) -> MaskConfig:
        """The same curriculum in steps: thresholds and ramps scaled by total_steps / max_time.

        A run of ``total_steps`` steps then passes through the same phases at the same fractions
        of the run as the ``max_time``-epoch schedule.
        """
        if self.unit != "epoch":
            raise BitmaskError(
                "MaskConfig.compressed() maps an epoch curriculum onto steps, but this config is "
                "already in steps: use it as it is"
            )
        if int(total_steps) < 1:
            raise BitmaskError(f"total_steps = {total_steps!r}: must be >= 1")
        scale = float(total_steps) / self.max_time  # steps per epoch

        def to_steps(value: float | None) -> float | None:
            return None if value is None else value * scale

        return dataclasses.replace(
            self,
            unit="step",
            max_time=float(total_steps),
            byte_start=to_steps(self.byte_start),
            word_start=to_steps(self.word_start),
            phrase_start=to_steps(self.phrase_start),
            ramp_per_unit=self.ramp_per_unit / scale,
        )

    @classmethod
    def for_steps(cls, total_steps: int, total_epochs: float = 100.0, **fields: Any) -> MaskConfig:
        """An epoch config (``total_epochs`` long, other fields as given) compressed to steps."""
        return cls(max_time=float(total_epochs), **fields).compressed(total_steps)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MaskConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BitmaskError(
                f"unknown MaskConfig field {unknown[0]!r}: use one of {', '.join(sorted(known))}"
            )
        return cls(**data)
