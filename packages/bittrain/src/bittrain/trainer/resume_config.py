"""Which config a ``--resume`` continues with.

Most people rerun their own command line with ``--resume`` appended, so the command line is
resolved as for a fresh start (``--config`` or, without it, the run's saved config.toml, then
``--set``, then the dedicated options) and compared with RUN/config.toml:

- equal: the run continues exactly;
- different only in the budget given by ``--max-steps`` / ``--max-minutes`` / ``--max-flops``:
  accepted (the documented way to give a stopped run more time), and logged;
- anything else: refused, naming every key that differs (old -> new), unless
  ``--allow-config-change`` says the change is meant (the run then no longer repeats an
  uninterrupted one).

What is compared is what changes the run (model, data, optimizer, schedule), not where it runs:
``out`` (a run directory moved or copied elsewhere resumes where it is now) and ``device`` (the
launcher writes the device it forces for ``--nproc`` / ``--gpus`` into config.toml, and ``auto``
on a CPU machine is ``cpu``) are left out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bittrain.errors import BittrainError
from bittrain.trainer.config import TrainConfig
from bittrain.trainer.config_files import config_from_toml_text

log = logging.getLogger(__name__)

# Keys a resume may change through their own options (--max-steps, --max-minutes, --max-flops).
BUDGET_KEYS = ("max_steps", "max_minutes", "max_flops")
# Keys holding local paths: "c.zarr" and "./c.zarr" name the same store.
PATH_KEYS = ("corpus", "bitswin.table_codes")
# Where the run is and runs, not what it computes: never compared.
PLACE_KEYS = ("out", "device")


def _flat(config: TrainConfig) -> dict[str, Any]:
    """Flat keys of the config; tables as dotted keys (model.depths, mask.word_start)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)
        else:
            flat[prefix] = value

    for key, value in config.to_toml_dict().items():
        name = {"model_config": "model"}.get(key, key)
        if isinstance(value, dict):
            walk(name, value)
        else:
            flat[name] = value
    return flat


def _same_path(a: Any, b: Any) -> bool:
    if not (isinstance(a, str) and isinstance(b, str)) or "://" in a + b or not a or not b:
        return a == b
    return os.path.abspath(os.path.expanduser(a)) == os.path.abspath(os.path.expanduser(b))


def config_changes(saved: TrainConfig, requested: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """Every key whose value differs: key -> (saved value, requested value); None = absent."""
    old, new = _flat(saved), _flat(requested)
    changes: dict[str, tuple[Any, Any]] = {}
    for key in sorted((set(old) | set(new)) - set(PLACE_KEYS)):
        a, b = old.get(key), new.get(key)
        if key in PATH_KEYS and _same_path(a, b):
            continue
        if a != b:
            changes[key] = (a, b)
    return changes


def _describe(changes: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{key} {a!r} -> {b!r}" for key, (a, b) in changes.items())


def read_saved_config(run_dir: str | Path) -> TrainConfig:
    path = Path(run_dir) / "config.toml"
    if not path.is_file():
        raise BittrainError(f"--resume: '{path}' does not exist: is '{run_dir}' a run directory?")
    return config_from_toml_text(path.read_text(encoding="utf-8"), str(path))


def resume_config(
    run_dir: str | Path,
    build: Callable[[str], TrainConfig],
    *,
    config: str | None,
    budget: dict[str, Any],
    allow_changes: bool = False,
) -> TrainConfig:
    """The config to resume ``run_dir`` with. ``build(source)`` resolves the command line from
    a config source (``config``, or the saved config.toml when None); ``budget`` holds the
    values given by --max-steps / --max-minutes / --max-flops (None = not given)."""
    saved_path = Path(run_dir) / "config.toml"
    saved = read_saved_config(run_dir)
    requested = build(config if config is not None else str(saved_path))
    changes = config_changes(saved, requested)
    given = {k for k, v in budget.items() if v is not None and k in BUDGET_KEYS}
    budget_changes = {k: v for k, v in changes.items() if k in given}
    other = {k: v for k, v in changes.items() if k not in given}
    if other and not allow_changes:
        drop = f"drop --config {config} and" if config is not None else "drop"
        raise BittrainError(
            f"--resume: this command line changes the run's config ({saved_path}): "
            f"{_describe(other)}; resume with the run's own settings ({drop} the options that "
            f"differ: --out {run_dir} --resume alone reads them from its config.toml), or add "
            "--allow-config-change to continue with the new values on purpose (the run then no "
            "longer repeats an uninterrupted one)"
        )
    if budget_changes:
        log.info("resuming %s with a new budget: %s", run_dir, _describe(budget_changes))
    if other:
        log.warning("resuming %s with a changed config: %s", run_dir, _describe(other))
    return requested
