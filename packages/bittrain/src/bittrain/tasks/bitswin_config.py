"""Settings of the ``bitswin`` task (``TaskSpec``): its own ``[bitswin]`` section
(``BitSwinTaskOptions``), the model from a bitswin preset plus the ``[model]`` overrides, the
masks from ``[mask]`` (bitmask MaskConfig, the epoch curriculum compressed onto the run's steps)
and corruption from ``[corruption]``.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from bitmask import CorruptionConfig, MaskConfig, bigram_pmi
from bitmask.errors import BitmaskError
from bitswin import BitSwinConfig
from bitswin.errors import BitswinError
from enctable import AdaptiveEncodingTable
from enctable.errors import EnctableError

from bittrain.engine.contracts import TaskSpec
from bittrain.errors import BittrainError

UNIT_SOURCES = ("model", "entropy", "whitespace", "class")  # boundary_source
PRIORS = ("whitespace", "class")  # boundary_prior
TABLE_MODES = ("fixed", "adaptive")
CURRICULUM_UNITS = ("step", "epoch")
# mask.unit_choice = "cohesion": byte-pair PMI counted on this much of the train split
COHESION_WINDOWS, COHESION_WINDOW_BYTES = 1024, 4096


@dataclass(frozen=True)
class BitSwinTaskOptions:
    """The ``[bitswin]`` section of a training config: the bitswin task's own settings."""

    curriculum_unit: str = "step"  # step: the epoch curriculum compressed onto the run's steps
    steps_per_epoch: int = 0  # curriculum_unit=epoch: steps per epoch (0 = one corpus pass)
    boundary_source: str = "model"  # units of word/phrase masks: model | entropy | prior names
    boundary_prior: str = "whitespace"  # units before the word phase (bootstrap)
    boundary_refresh_every: int = 1  # steps between boundary-model snapshots (1 = live model)
    table_enabled: bool = True  # grow an adaptive encoding table from the model's boundaries
    table_update_every: int = 500  # steps between table updates (appendix B: 500)
    table_max_size: int = 10000  # entries per level
    table_codes: str = ""  # a saved table whose codes feed the model ("" = off)
    # fixed: the table_codes table as it is; adaptive: the fed table is the one this run grows
    # from the model's own units (every table_update_every steps), starting from table_codes,
    # or empty without it (its code space, 256 + level x table_max_size, is sized up front).
    table_mode: str = "fixed"
    table_code_level: int = 2  # which level's codes are fed (1 = shortest units)

    def __post_init__(self) -> None:
        for name, allowed in (
            ("boundary_source", UNIT_SOURCES),
            ("boundary_prior", PRIORS),
            ("table_mode", TABLE_MODES),
            ("curriculum_unit", CURRICULUM_UNITS),
        ):
            value = getattr(self, name)
            if value not in allowed:
                close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.4)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise BittrainError(
                    f"config key 'bitswin.{name}' = {value!r} is not one of "
                    f"{', '.join(allowed)}{hint}"
                )
        for name, least in (("boundary_refresh_every", 1), ("table_update_every", 1),
                            ("table_max_size", 1), ("steps_per_epoch", 0),
                            ("table_code_level", 1)):  # fmt: skip
            if getattr(self, name) < least:
                raise BittrainError(
                    f"config key 'bitswin.{name}' = {getattr(self, name)!r} must be >= {least}"
                )
        if self.table_mode == "adaptive" and not self.table_enabled:
            raise BittrainError(
                "bitswin.table_mode = 'adaptive' grows the fed table during training, but "
                "bitswin.table_enabled is false: set table_enabled = true (or table_mode = 'fixed')"
            )

    @property
    def feeds_grown_table(self) -> bool:
        """The model takes codes of the table this run grows (adaptive mode)."""
        return self.table_mode == "adaptive"


def model_config(spec: TaskSpec, code_vocab_size: int = 0) -> BitSwinConfig:
    """The preset with the [model] overrides (codes of a fed table size the code embedding)."""
    overrides = dict(spec.model)
    valid = [f.name for f in dataclasses.fields(BitSwinConfig)]
    for key in overrides:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean 'model.{close[0]}'?)" if close else ""
            raise BittrainError(
                f"unknown model key 'model.{key}'{hint}: bitswin keys are {', '.join(valid)}"
            )
    if code_vocab_size:
        overrides.setdefault("code_vocab_size", code_vocab_size)
    try:
        return BitSwinConfig.preset(spec.preset, **overrides)
    except BitswinError as exc:
        raise BittrainError(f"model config ([model] / model.<key>): {exc}") from None


def mask_config(spec: TaskSpec, options: BitSwinTaskOptions, total_steps: int) -> MaskConfig:
    try:
        mask = MaskConfig.from_dict(dict(spec.mask))
        if options.curriculum_unit == "step" and mask.unit == "epoch":
            mask = mask.compressed(total_steps)  # the epoch curriculum, in this run's steps
    except BitmaskError as exc:
        raise BittrainError(f"mask config ([mask] / mask.<key>): {exc}") from None
    return mask


def eval_mask_config(mask: MaskConfig) -> MaskConfig:
    """Validation's masks: the training config's units as the boundary source gives them,
    chosen uniformly, bytes drawn one by one (a run's placement and choice of units and what
    its byte level draws never change what is measured)."""
    return dataclasses.replace(
        mask, unit_placement="boundaries", unit_choice="uniform", byte_unit="byte"
    )


def cohesion_pmi(spec: TaskSpec, mask: MaskConfig) -> torch.Tensor | None:
    """Byte-pair PMI of seeded train windows (bitmask.bigram_pmi) when units are chosen by
    cohesion, else None: the count-based join scores of ``make_masks(cohesion=)``."""
    if mask.unit_choice != "cohesion" or spec.train_split is None:
        return None
    split = spec.train_split
    length = int(min(COHESION_WINDOW_BYTES, split.num_bytes))
    n = max(1, min(COHESION_WINDOWS, int(split.num_bytes) // max(length, 1)))
    windows, _ = split.sample_windows(n, length, np.random.default_rng(spec.seed))
    return bigram_pmi(list(windows))


def corruption_config(spec: TaskSpec) -> CorruptionConfig | None:
    if not spec.corruption:
        return None
    try:
        return CorruptionConfig(**dict(spec.corruption))
    except (TypeError, BitmaskError) as exc:  # TypeError: a key CorruptionConfig lacks
        raise BittrainError(
            f"corruption config ([corruption]): {exc}: see bitmask.CorruptionConfig"
        ) from None


def steps_per_epoch(spec: TaskSpec, options: BitSwinTaskOptions) -> float:
    if options.steps_per_epoch > 0:
        return float(options.steps_per_epoch)
    if spec.train_split is None:  # a spec for checking settings: no corpus, no epochs
        return 1.0
    return max(spec.train_split.num_bytes / (spec.batch_size * spec.seq_len), 1e-9)


def load_code_table(options: BitSwinTaskOptions) -> AdaptiveEncodingTable | None:
    """The table whose codes feed the model: table_codes, an empty table in adaptive mode
    without one, or None (no codes)."""
    if not options.table_codes:
        if not options.feeds_grown_table:
            return None
        table = AdaptiveEncodingTable(levels=4, max_size=options.table_max_size)
        if options.table_code_level > table.levels:
            raise BittrainError(
                f"table_code_level {options.table_code_level} is not a level of the grown table "
                f"(levels 1..{table.levels})"
            )
        return table
    path = Path(options.table_codes)
    if not path.is_dir():
        raise BittrainError(
            f"table_codes '{path}' is not an encoding table directory: build one with "
            "`bitlab table build` or use a run's RUN/table"
        )
    try:
        table = AdaptiveEncodingTable.load(path)
    except EnctableError as exc:
        raise BittrainError(f"table_codes '{path}': {exc}") from None
    if not 1 <= options.table_code_level <= table.levels:
        raise BittrainError(
            f"table_code_level {options.table_code_level} is not a level of '{path}' "
            f"(it has levels 1..{table.levels})"
        )
    return table


def check_spec(spec: TaskSpec) -> None:
    """The model, mask and corruption settings of a spec are valid (raises BittrainError)."""
    options = spec.options or BitSwinTaskOptions()
    model_config(spec)
    mask_config(spec, options, spec.total_steps)
    corruption_config(spec)
