"""Reading a training config: a shipped config by name (``tiny``, ``tiny-bytes``, ``base``,
``large`` in ``bittrain/configs/``) or a TOML file (``extends = "NAME"`` starts from another),
then ``--set key=value`` overrides, then the dedicated options.

Values of overrides are TOML literals (``lr=1e-3``, ``compile=true``, ``corpus="data/c.zarr"``; a
bare word that is not a TOML literal is taken as a string, so ``device=cpu`` works). Dotted keys
reach the tables: ``model.width=192`` (the task's model config), ``mask.word_start=10`` (bitmask's
MaskConfig), ``bitswin.table_enabled=false`` (the task's own section). Unknown keys and wrong
types are rejected with the closest valid key.

Older spellings are still read: a task's own keys written flat (``boundary_source = "model"``,
``--set table_mode=adaptive``: what every config.toml said before the sections; a file's flat keys
of another task are dropped, a ``--set`` of one is an error), ``model = "..."`` for ``task`` and
``[model_config]`` for ``[model]``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from bittrain.engine.registry import task_kinds, task_option_names
from bittrain.errors import BittrainError
from bittrain.fileio import write_text_atomic
from bittrain.trainer.config import (
    FIELD_NAMES,
    LEGACY_KEYS,
    TABLE_KEYS,
    TOML_TABLE_NAMES,
    TrainConfig,
    suggest,
)

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
DEFAULT_TASK = "bitswin"  # TrainConfig.task's default
TASK_KEYS = "_task_keys"  # values[TASK_KEYS]: (section or None, key, value, strict) in order


def _task_key(values: dict[str, Any], section: str | None, key: str, value: Any, strict: bool):
    values.setdefault(TASK_KEYS, []).append((section, key, value, strict))


def _any_task_option(key: str) -> bool:
    return any(key in task_option_names(kind) for kind in task_kinds())


def place_task_keys(values: dict[str, Any]) -> dict[str, Any]:
    """Move the collected task keys into ``task_options`` of the task the config trains."""
    values = dict(values)
    entries = values.pop(TASK_KEYS, [])
    task = values.get("task", DEFAULT_TASK)
    names = task_option_names(task) if task in task_kinds() else ()
    section = dict(values.get("task_options", {}))
    for kind, key, value, strict in entries:
        if (kind is None and key in names) or kind == task:
            section[key] = value
        elif strict and kind is None:
            raise _unknown_key(key)
        elif strict:
            raise BittrainError(
                f"--set {kind}.{key}: this run trains task '{task}', not '{kind}': drop it"
            )
    values["task_options"] = section
    return values


def shipped_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))


def _unknown_key(key: str) -> BittrainError:
    flat = [n for n in FIELD_NAMES if n not in TABLE_KEYS]
    return BittrainError(
        f"unknown config key '{key}'{suggest(key, flat)}: valid keys are {', '.join(flat)}, "
        "and model.<key>, mask.<key>, corruption.<key>, <task>.<key> for the tables"
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
        elif isinstance(value, dict) and key in task_kinds():
            for inner, setting in value.items():
                _task_key(values, key, inner, setting, strict=False)
        elif not isinstance(value, dict) and _any_task_option(key):
            _task_key(values, None, key, value, strict=False)
        elif isinstance(value, dict):
            raise BittrainError(
                f"unknown table [{key}] in {origin}{suggest(key, list(TOML_TABLE_NAMES))}: "
                "the tables are [model] (model overrides), [mask] (masking config), "
                "[corruption] (replacement for the contrastive task) and the task's own section "
                f"({', '.join(f'[{k}]' for k in task_kinds() if task_option_names(k))})"
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
        if key == TASK_KEYS:
            values.setdefault(TASK_KEYS, []).extend(value)
        elif isinstance(value, dict):
            values[key] = {**values.get(key, {}), **value}
        else:
            values[key] = value
    return values


def resolve_config_path(source: str) -> Path:
    """A shipped config name (``tiny``) or a path to a TOML file."""
    if source in shipped_configs():
        return CONFIG_DIR / f"{source}.toml"
    path = Path(os.path.expanduser(source))
    if path.is_file():
        return path
    names = shipped_configs()
    hint = suggest(source, names)
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
    values[TASK_KEYS] = list(values.get(TASK_KEYS, []))
    for text in overrides:
        key, value = parse_override(text)
        head, _, rest = key.partition(".")
        if rest and head in task_kinds():
            _task_key(values, head, rest, value, strict=True)
        elif rest:
            table = TOML_TABLE_NAMES.get(head)
            if table is None:
                raise BittrainError(
                    f"unknown config table '{head}' in --set {key}"
                    f"{suggest(head, list(TOML_TABLE_NAMES))}: dotted keys reach [model] "
                    "(model.depths=[1,1]), [mask] (mask.word_start=10), [corruption] and the "
                    "task's own section (bitswin.table_enabled=false)"
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
        elif _any_task_option(key):
            _task_key(values, None, key, value, strict=True)
        else:
            raise _unknown_key(key)
    return values


def _drop_foreign_model_table(
    values: dict[str, Any], overrides: list[str], task: str | None
) -> dict[str, Any]:
    """A shipped config's [model] table is written for its own task (bitswin): when the user
    switches the task (``--set task=byte``), that table would not fit, so it is dropped (so is
    the task section, as for any file: see ``place_task_keys``)."""
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
        if key in FIELD_NAMES:
            values[key] = value
        elif _any_task_option(key):  # a task option with a flag of its own (--table)
            _task_key(values, None, key, value, strict=True)
        else:
            raise _unknown_key(key)
    return TrainConfig(**place_task_keys(values))


def config_from_toml_text(text: str, origin: str = "config") -> TrainConfig:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BittrainError(f"{origin} is not valid TOML: {exc}") from None
    return TrainConfig(**place_task_keys(_from_toml_dict(doc, origin)))


def write_config(config: TrainConfig, path: Path) -> None:
    """Write the resolved config atomically (temp file + rename)."""
    write_text_atomic(path, config.to_toml())
