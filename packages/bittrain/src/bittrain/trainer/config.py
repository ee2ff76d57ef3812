"""The training config: a frozen dataclass of flat, self-explaining keys, read from TOML.

A config comes from a shipped file chosen by name (``tiny``, ``base``, ``large``: they live in
``bittrain/configs/``) or from a path, then ``--set key=value`` overrides are applied. Values
of overrides are TOML literals (``lr=1e-3``, ``compile=true``, ``corpus="data/c.zarr"``; a bare word
that is not a TOML literal is taken as a string, so ``device=cpu`` works). Dotted keys reach the
pass-through tables: ``model.width=192`` (the task's model config) and ``mask.word_start=10``
(bitmask's MaskConfig). Unknown keys and wrong types are rejected with the closest valid key.

``task`` names what is trained (a kind of :mod:`bittrain.engine.registry`: bitswin, byte,
bpe...); files written before it was named so spell it ``model = "..."`` with the model table
as ``[model_config]``: both are still read.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import tomli_w

from bittrain.engine.registry import task_kinds
from bittrain.errors import BittrainError
from bittrain.fileio import write_text_atomic
from bittrain.hidden.spans import resolve_protocols

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

# Keys whose values must be one of a fixed set.
CHOICES: dict[str, tuple[str, ...]] = {
    "boundary_source": ("model", "entropy", "whitespace", "class"),
    "boundary_prior": ("whitespace", "class"),
    "curriculum_unit": ("step", "epoch"),
    "precision": ("auto", "fp32", "bf16"),
    "device": ("auto", "cpu", "cuda"),
    "parallel": ("ddp", "fsdp"),
    "table_mode": ("fixed", "adaptive"),
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
    "boundary_refresh_every",
    "table_update_every",
    "table_max_size",
)
AT_LEAST_ZERO: tuple[str, ...] = (
    "warmup_steps",
    "eval_every",
    "steps_per_epoch",
    "weight_decay",
    "grad_clip",
    "max_minutes",
    "max_flops",
)

# Pass-through tables: their contents are checked by the package that reads them.
TABLE_KEYS: tuple[str, ...] = ("model_config", "mask", "corruption")
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
    # -- bitswin task: curriculum and boundaries ----------------------------------------------
    curriculum_unit: str = "step"  # step: the epoch curriculum compressed onto max_steps
    steps_per_epoch: int = 0  # curriculum_unit=epoch: steps per epoch (0 = one pass of the corpus)
    boundary_source: str = (
        "model"  # units of word/phrase masks: model | entropy | whitespace | class
    )
    boundary_prior: str = "whitespace"  # bootstrap units before the word phase (and for the priors)
    boundary_refresh_every: int = (
        1  # steps between refreshes of the boundary model (1 = live model)
    )
    # -- bitswin task: encoding table ----------------------------------------------------------
    table_enabled: bool = True  # grow an adaptive encoding table from the model's boundaries
    table_update_every: int = 500  # steps between table updates (appendix B: 500)
    table_max_size: int = 10000  # entries per level
    table_codes: str = ""  # a saved encoding table whose codes feed the model (code_ids); "" = off
    table_mode: str = "fixed"  # fixed: that table as it is | adaptive: it keeps growing in the run
    table_code_level: int = 2  # which level's codes are fed (1 = shortest units)
    # -- execution -----------------------------------------------------------------------------
    compile: bool = False  # torch.compile the model
    precision: str = "auto"  # auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16
    device: str = "auto"  # auto | cpu | cuda
    parallel: str = "ddp"  # ddp | fsdp (FSDP2 fully_shard, for large models)
    # -- pass-through tables -------------------------------------------------------------------
    model_config: dict[str, Any] = field(default_factory=dict)  # TOML [model]: model overrides
    mask: dict[str, Any] = field(default_factory=dict)  # TOML [mask]: bitmask MaskConfig fields
    corruption: dict[str, Any] = field(default_factory=dict)  # TOML [corruption]: CorruptionConfig

    def __post_init__(self) -> None:
        _check_types(self)
        _check_values(self)

    # -- conversions -----------------------------------------------------------------------------

    def to_toml_dict(self) -> dict[str, Any]:
        """The config as a TOML document: flat keys, then the [model], [mask] and [corruption]
        tables."""
        data = dataclasses.asdict(self)
        doc = {k: v for k, v in data.items() if k not in TABLE_KEYS}
        doc["model"] = dict(self.model_config)
        doc["mask"] = dict(self.mask)
        doc["corruption"] = dict(self.corruption)
        return doc

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_toml_dict())

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    @property
    def out_path(self) -> Path:
        return Path(self.out)


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


def _suggest(key: str, candidates: list[str] | tuple[str, ...], cutoff: float = 0.5) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or "" when none is close."""
    close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_values(cfg: TrainConfig) -> None:
    kinds = task_kinds()
    if cfg.task not in kinds:
        hint = _suggest(cfg.task, kinds, cutoff=0.4)
        raise BittrainError(
            f"config key 'task' = {cfg.task!r} is not one of {', '.join(kinds)}{hint}"
        )
    if cfg.eval_protocols:
        resolve_protocols(cfg.eval_protocols)  # names the valid protocols when one is wrong
    for name, choices in CHOICES.items():
        value = getattr(cfg, name)
        if value not in choices:
            hint = _suggest(str(value), choices, cutoff=0.4)
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


# -- reading -------------------------------------------------------------------------------------


def shipped_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))


def _unknown_key(key: str) -> BittrainError:
    flat = [n for n in FIELD_NAMES if n not in TABLE_KEYS]
    return BittrainError(
        f"unknown config key '{key}'{_suggest(key, flat)}: valid keys are {', '.join(flat)}, "
        "and model.<key>, mask.<key>, corruption.<key> for the tables"
    )


def _from_toml_dict(doc: dict[str, Any], origin: str) -> dict[str, Any]:
    """Map a TOML document onto TrainConfig field values (tables renamed, unknown keys caught)."""
    values: dict[str, Any] = {}
    for key, value in doc.items():
        if key in LEGACY_KEYS and not isinstance(value, dict):
            key = LEGACY_KEYS[key]
        if key in ("model", "model_config") and isinstance(value, dict):
            values.setdefault("model_config", {}).update(value)
        elif key in ("mask", "corruption") and isinstance(value, dict):
            values.setdefault(key, {}).update(value)
        elif key in FIELD_NAMES and key not in TABLE_KEYS:
            values[key] = value
        elif isinstance(value, dict):
            raise BittrainError(
                f"unknown table [{key}] in {origin}{_suggest(key, list(TOML_TABLE_NAMES))}: "
                "the tables are [model] (model overrides), [mask] (masking config) and "
                "[corruption] (replacement for the contrastive task)"
            )
        else:
            err = _unknown_key(key)
            raise BittrainError(f"{err} (in {origin})")
    return values


def _config_file_values(path: Path, chain: tuple[str, ...] = ()) -> dict[str, Any]:
    """A config file's field values; ``extends = "NAME"`` (a shipped config, or a TOML file
    beside this one) starts from that config, this file's keys and table entries on top."""
    doc = read_toml(path)
    parent = doc.pop("extends", None)
    values: dict[str, Any] = {}
    if parent is not None:
        if not isinstance(parent, str):
            raise BittrainError(
                f"extends = {parent!r} in {path}: give a config name or a TOML file"
            )
        if parent not in shipped_configs():
            parent = str(path.parent / os.path.expanduser(parent))
        base = resolve_config_path(parent)
        if str(base.resolve()) in (*chain, str(path.resolve())):
            raise BittrainError(f"config '{path}' extends itself through '{base}': break the cycle")
        values = _config_file_values(base, (*chain, str(path.resolve())))
    for key, value in _from_toml_dict(doc, str(path)).items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    return values


def resolve_config_path(source: str) -> Path:
    """A shipped config name (``tiny``) or a path to a TOML file."""
    if source in shipped_configs():
        return CONFIG_DIR / f"{source}.toml"
    path = Path(os.path.expanduser(source))
    if path.is_file():
        return path
    names = shipped_configs()
    hint = _suggest(source, names)
    raise BittrainError(
        f"config '{source}' is neither a shipped config ({', '.join(names)}) nor a TOML file{hint}"
    )


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise BittrainError(f"config file '{path}' is not valid TOML: {exc}") from None
    except OSError as exc:
        raise BittrainError(f"cannot read config file '{path}': {exc.strerror}") from None


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with value a TOML literal (bare words that are not TOML are strings)."""
    if "=" not in text:
        raise BittrainError(f"--set '{text}' is not key=value: e.g. --set lr=1e-3")
    key, raw = text.split("=", 1)
    key, raw = key.strip(), raw.strip()
    if not key:
        raise BittrainError(f"--set '{text}' has no key: e.g. --set lr=1e-3")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # device=cpu, out=runs/x
    return key, value


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in values.items()}
    for text in overrides:
        key, value = parse_override(text)
        head, _, rest = key.partition(".")
        if rest:
            table = TOML_TABLE_NAMES.get(head)
            if table is None:
                raise BittrainError(
                    f"unknown config table '{head}' in --set {key}"
                    f"{_suggest(head, list(TOML_TABLE_NAMES))}: dotted keys reach [model] "
                    "(model.depths=[1,1]), [mask] (mask.word_start=10) and [corruption]"
                )
            node = values.setdefault(table, {})
            *parents, leaf = rest.split(".")
            for part in parents:  # model.loss_weights.byte=2 reaches a nested table
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise BittrainError(f"--set {key}: '{part}' is not a table")
            node[leaf] = value
        elif LEGACY_KEYS.get(key, key) in FIELD_NAMES and key not in TABLE_KEYS:
            values[LEGACY_KEYS.get(key, key)] = value
        else:
            raise _unknown_key(key)
    return values


def _drop_foreign_model_table(
    values: dict[str, Any], overrides: list[str], task: str | None
) -> dict[str, Any]:
    """A shipped config's [model] table is written for its own task (bitswin): when the user
    switches the task (``--set task=byte``), that table would not fit, so it is dropped."""
    for text in overrides:
        key, value = parse_override(text)
        if LEGACY_KEYS.get(key, key) == "task":
            task = value
    if task is not None and task != values.get("task", "bitswin"):
        values = {k: v for k, v in values.items() if k != "model_config"}
    return values


def load_config(
    source: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    **fields: Any,
) -> TrainConfig:
    """Read a shipped config (by name) or TOML file, then apply ``--set`` overrides and fields.

    ``fields`` (e.g. ``corpus=..., out=...``) are applied last, as from dedicated CLI options;
    None values are ignored.
    """
    values: dict[str, Any] = {}
    if source is not None:
        values = _config_file_values(resolve_config_path(str(source)))
        if str(source) in shipped_configs():
            values = _drop_foreign_model_table(values, list(overrides), fields.get("task"))
    values = apply_overrides(values, list(overrides))
    for key, value in fields.items():
        if value is None:
            continue
        if key not in FIELD_NAMES:
            raise _unknown_key(key)
        values[key] = value
    return TrainConfig(**values)


def config_from_toml_text(text: str, origin: str = "config") -> TrainConfig:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BittrainError(f"{origin} is not valid TOML: {exc}") from None
    return TrainConfig(**_from_toml_dict(doc, origin))


def write_config(config: TrainConfig, path: Path) -> None:
    """Write the resolved config atomically (temp file + rename)."""
    write_text_atomic(path, config.to_toml())
