"""The training config: a frozen dataclass of the loop's flat, self-explaining keys, plus the
task's tables, checked on construction (reading it from TOML and ``--set``: ``config_files``).

The loop's keys say what a run computes and how long (batch, optimizer, schedule, budget,
checkpoints, validation, execution). ``task`` names what is trained (a kind of
:mod:`bittrain.engine.registry`: bitswin, byte, bpe...); the task's own settings are the section
named after it (``[bitswin]``, read into the kind's options dataclass), its model overrides
``[model]``, and for bitswin its masks ``[mask]`` and corruption ``[corruption]``. The loop
passes those to the task and reads none of them.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any, get_type_hints

import tomli_w

from bittrain.engine.registry import task_kinds, task_options
from bittrain.errors import BittrainError
from bittrain.hidden.spans import resolve_protocols

# Keys whose values must be one of a fixed set.
CHOICES: dict[str, tuple[str, ...]] = {
    "precision": ("auto", "fp32", "bf16"),
    "device": ("auto", "cpu", "cuda"),
    "parallel": ("ddp", "fsdp"),
}

# Numeric keys with a lower bound.
AT_LEAST_ONE: tuple[str, ...] = (
    "batch_size",
    "grad_accum",
    "seq_len",
    "max_steps",
    "checkpoint_every",
    "keep_checkpoints",
    "eval_windows",
    "log_every",
)
AT_LEAST_ZERO: tuple[str, ...] = (
    "warmup_steps",
    "eval_every",
    "weight_decay",
    "grad_clip",
    "max_minutes",
    "max_flops",
)

# Pass-through tables: their contents are checked by the package that reads them.
TABLE_KEYS: tuple[str, ...] = ("model_config", "mask", "corruption", "task_options")
# The TOML spelling of the pass-through tables ([model] is the model config).
TOML_TABLE_NAMES: dict[str, str] = {
    "model": "model_config",
    "model_config": "model_config",  # files written before the task key existed
    "mask": "mask",
    "corruption": "corruption",
}
# Flat keys of older files and command lines, read as their new names.
LEGACY_KEYS: dict[str, str] = {"model": "task"}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run computes (not where it runs).

    Launch settings (``--gpus``, ``--nproc``, ``--nnodes``...) are not part of it: the same config
    trained on 1 or 8 workers sees the same global batches.
    """

    # -- what and where ------------------------------------------------------------------------
    seed: int = 0  # every random draw is a function of (seed, step, sample)
    corpus: str = ""  # bitcodec corpus store (path or fsspec URL)
    out: str = ""  # run directory
    task: str = "bitswin"  # what is trained: a registered task kind (bitswin | byte | bpe ...)
    model_preset: str = "tiny"  # size preset of the model (tiny | base | large)
    # -- batch ---------------------------------------------------------------------------------
    batch_size: int = 32  # windows per optimizer step, over all workers (global)
    grad_accum: int = 1  # micro-batches per optimizer step and worker
    seq_len: int = 256  # window length in bytes
    # -- optimizer and schedule ----------------------------------------------------------------
    lr: float = 1.5e-3  # peak learning rate (AdamW)
    warmup_steps: int = 150  # linear warm-up from 0 to lr
    min_lr_ratio: float = 0.1  # cosine decay from lr down to lr * min_lr_ratio at max_steps
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.98
    grad_clip: float = 1.0  # max global gradient norm (0 = off)
    # -- budget --------------------------------------------------------------------------------
    max_steps: int = 2000  # optimizer steps (also the length of the lr schedule and curriculum)
    max_minutes: float = 0.0  # stop earlier after this many minutes of training (0 = no limit)
    # a FLOP budget (0 = none): the run stops at this many training FLOPs (every forward
    # counted), and the lr schedule and curriculum are laid over the steps it buys (<= max_steps)
    max_flops: float = 0.0
    # -- checkpoints, evaluation, logging ------------------------------------------------------
    checkpoint_every: int = 200  # steps between checkpoints (the final step always gets one)
    keep_checkpoints: int = 3  # how many of the newest checkpoints to keep
    eval_every: int = 200  # steps between validations on the val split (0 = only at the end)
    eval_windows: int = 64  # validation windows (fixed seed: the same in every run)
    eval_seed: int = 0  # seed of the validation windows and the evaluation mask
    # evaluation protocols scored at every validation, one pass each (bittrain.hidden.spans;
    # "" = only the task's own metrics)
    eval_protocols: str = "words,tokens,bytes"
    log_every: int = 10  # steps between metrics.jsonl rows
    tensorboard: bool = False  # also write TensorBoard events to RUN/tensorboard (if installed)
    # -- execution -----------------------------------------------------------------------------
    compile: bool = False  # torch.compile the model
    precision: str = "auto"  # auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16
    device: str = "auto"  # auto | cpu | cuda
    parallel: str = "ddp"  # ddp | fsdp (FSDP2 fully_shard, for large models)
    # -- pass-through tables -------------------------------------------------------------------
    model_config: dict[str, Any] = field(default_factory=dict)  # TOML [model]: model overrides
    mask: dict[str, Any] = field(default_factory=dict)  # TOML [mask]: bitmask MaskConfig fields
    corruption: dict[str, Any] = field(default_factory=dict)  # TOML [corruption]: CorruptionConfig
    # The task's own settings: the TOML table named after the task kind (e.g. [bitswin]), read
    # into the kind's options dataclass (bittrain.engine.options); every key filled in.
    task_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_types(self)
        _check_values(self)
        options = task_options(self.task, self.task_options)  # checks the section's keys
        if options is not None:  # every key filled in: config.toml says all, resume compares all
            object.__setattr__(self, "task_options", dataclasses.asdict(options))

    # -- conversions -----------------------------------------------------------------------------

    def to_toml_dict(self) -> dict[str, Any]:
        """The config as a TOML document: flat keys, then the [model], [mask] and [corruption]
        tables and the task's own section ([bitswin])."""
        data = dataclasses.asdict(self)
        doc = {k: v for k, v in data.items() if k not in TABLE_KEYS}
        doc["model"] = dict(self.model_config)
        doc["mask"] = dict(self.mask)
        doc["corruption"] = dict(self.corruption)
        if self.task_options:
            doc[self.task] = dict(self.task_options)
        return doc

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_toml_dict())

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


FIELD_TYPES: dict[str, Any] = get_type_hints(TrainConfig)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainConfig))


def _type_name(tp: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, "a table"
    )


def _check_types(cfg: TrainConfig) -> None:
    for name in FIELD_NAMES:
        tp = FIELD_TYPES[name]
        value = getattr(cfg, name)
        if name in TABLE_KEYS:
            ok = isinstance(value, dict)
        elif tp is bool:
            ok = isinstance(value, bool)
        elif tp is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif tp is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok and isinstance(value, int):
                object.__setattr__(cfg, name, float(value))
        else:
            ok = isinstance(value, tp)
        if not ok:
            raise BittrainError(
                f"config key '{name}' must be {_type_name(tp)}, got {value!r} "
                f"({type(value).__name__}): e.g. --set {name}={_example(name)}"
            )


def _example(name: str) -> str:
    default = getattr(TrainConfig(), name) if name not in TABLE_KEYS else {}
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, str):
        return f'"{CHOICES[name][0]}"' if name in CHOICES else '"..."'
    return repr(default)


def suggest(key: str, candidates: list[str] | tuple[str, ...], cutoff: float = 0.5) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or "" when none is close."""
    close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_values(cfg: TrainConfig) -> None:
    kinds = task_kinds()
    if cfg.task not in kinds:
        hint = suggest(cfg.task, kinds, cutoff=0.4)
        raise BittrainError(
            f"config key 'task' = {cfg.task!r} is not one of {', '.join(kinds)}{hint}"
        )
    if cfg.eval_protocols:
        resolve_protocols(cfg.eval_protocols)  # names the valid protocols when one is wrong
    for name, choices in CHOICES.items():
        value = getattr(cfg, name)
        if value not in choices:
            hint = suggest(str(value), choices, cutoff=0.4)
            raise BittrainError(
                f"config key '{name}' = {value!r} is not one of {', '.join(choices)}{hint}"
            )
    for names, least in ((AT_LEAST_ONE, 1), (AT_LEAST_ZERO, 0)):
        for name in names:
            if getattr(cfg, name) < least:
                raise BittrainError(
                    f"config key '{name}' = {getattr(cfg, name)!r} must be >= {least}"
                )
    if not cfg.lr > 0:
        raise BittrainError(f"config key 'lr' = {cfg.lr!r} must be > 0 (e.g. --set lr=1e-3)")
    if not 0.0 <= cfg.min_lr_ratio <= 1.0:
        raise BittrainError(f"config key 'min_lr_ratio' = {cfg.min_lr_ratio!r} must be in [0, 1]")
    for name in ("adam_beta1", "adam_beta2"):
        if not 0.0 <= getattr(cfg, name) < 1.0:
            raise BittrainError(f"config key '{name}' = {getattr(cfg, name)!r} must be in [0, 1)")
    if cfg.seq_len < 8:
        raise BittrainError(f"config key 'seq_len' = {cfg.seq_len} bytes is too short: use >= 8")
