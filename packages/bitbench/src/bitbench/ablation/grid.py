"""Ablation grid files (TOML): what to train, with which differences, at one shared budget.

```toml
title = "seed 5.4 ablations"      # optional
config = "tiny"                   # trainer config every run starts from (shipped name or file)

[base]                            # trainer keys applied to every run: the shared budget lives here
max_steps = 1000
seed = 0
"mask.unit" = "epoch"             # dotted keys reach the [model] / [mask] / [corruption] tables

[eval]                            # bitbench EvalSettings for the evaluation of every run
windows = 64

[tables.prior]                    # optional: an encoding table built before the runs (from a
prior = "whitespace"              # model-free prior on train windows), OUT/tables/prior

[[run]]
name = "bit_only"                 # directory name under --out (letters, digits, - _ .)
ablation = "levels"               # the group it belongs to (a list puts one run in several)
set = { "mask.byte_start" = 1e9 } # what this run changes (nested tables are flattened)
# set = { table_codes = "@tables.prior" } points a run at such a table
requires = ["table_mode"]         # optional: trainer keys this run needs; when the trainer
                                  # lacks one, the run is reported as unavailable, with why
note = "..."                      # optional: shown in the report
```

Runs may not change the budget (``BUDGET_KEYS``): equal-budget comparisons are the point.
Unknown keys anywhere are a BitbenchError naming the key and the keys that exist.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bitbench.ablation.tables import parse_tables
from bitbench.errors import BitbenchError
from bitbench.evaluate import EvalSettings

TOP_KEYS = ("title", "config", "base", "eval", "tables", "run")
RUN_KEYS = ("name", "ablation", "set", "requires", "note")
# Keys that define the budget: only [base] and the command line may set them.
BUDGET_KEYS = ("max_steps", "max_minutes", "seed", "batch_size", "grad_accum", "seq_len",
               "corpus", "out")  # fmt: skip
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_GRID = "default"


@dataclass(frozen=True)
class AblationRun:
    name: str
    ablations: tuple[str, ...]
    overrides: dict[str, Any]  # flat dotted trainer keys -> values
    requires: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class AblationGrid:
    source: str
    title: str
    config: str
    base: dict[str, Any]
    eval: dict[str, Any]
    runs: tuple[AblationRun, ...] = field(default_factory=tuple)
    tables: dict[str, Any] = field(default_factory=dict)  # name -> ablation.tables.PriorTable

    def groups(self) -> list[str]:
        """Ablation groups in first-appearance order."""
        seen: list[str] = []
        for run in self.runs:
            for group in run.ablations:
                if group not in seen:
                    seen.append(group)
        return seen


def default_grid_path() -> Path:
    """The grid of seed section 5.4's four ablations, shipped with bitbench."""
    return Path(str(resources.files("bitbench.grids").joinpath("ablations.toml")))


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"mask": {"span_p": 0.5}} -> {"mask.span_p": 0.5}; lists and scalars are leaves."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, dotted))
        else:
            flat[dotted] = value
    return flat


def _unknown(where: str, key: str, known: tuple[str, ...]) -> BitbenchError:
    return BitbenchError(f"grid {where}: unknown key '{key}': use {', '.join(known)}")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(s, str) and s for s in items):
        raise BitbenchError(f"grid {where} must be a non-empty string or list of strings")
    return tuple(items)


def _parse_run(raw: Any, number: int, source: str) -> AblationRun:
    where = f"'{source}' [[run]] #{number}"
    if not isinstance(raw, dict):
        raise BitbenchError(f"grid {where} is not a table: write [[run]] entries")
    for key in raw:
        if key not in RUN_KEYS:
            raise _unknown(where, key, RUN_KEYS)
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise BitbenchError(
            f"grid {where} needs name = \"...\" of letters, digits, '-', '_' or '.' "
            f"(it becomes a directory), got {name!r}"
        )
    where = f"'{source}' run '{name}'"
    if "ablation" not in raw:
        raise BitbenchError(f'grid {where} has no ablation = "..." (the group it belongs to)')
    ablations = _strings(raw["ablation"], f"{where} ablation")
    overrides = raw.get("set", {})
    if not isinstance(overrides, dict):
        raise BitbenchError(f"grid {where}: set must be a table, e.g. set = {{ lr = 1e-3 }}")
    overrides = flatten(overrides)
    for key in overrides:
        if key in BUDGET_KEYS:
            raise BitbenchError(
                f"grid {where} sets '{key}': runs share one budget, so set it in [base] "
                "(or on the command line) for every run"
            )
    requires = _strings(raw["requires"], f"{where} requires") if "requires" in raw else ()
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise BitbenchError(f"grid {where}: note must be a string")
    return AblationRun(name, ablations, overrides, requires, note)


def parse_grid(text: str, source: str = "grid") -> AblationGrid:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BitbenchError(f"grid '{source}' is not valid TOML: {exc}") from None
    for key in doc:
        if key not in TOP_KEYS:
            raise _unknown(f"'{source}'", key, TOP_KEYS)
    base = doc.get("base", {})
    evaluation = doc.get("eval", {})
    if not isinstance(base, dict) or not isinstance(evaluation, dict):
        raise BitbenchError(f"grid '{source}': [base] and [eval] must be tables")
    title = doc.get("title", Path(source).stem)
    config = doc.get("config", "tiny")
    if not isinstance(title, str) or not isinstance(config, str):
        raise BitbenchError(f"grid '{source}': title and config must be strings")
    runs_raw = doc.get("run", [])
    if not isinstance(runs_raw, list) or not runs_raw:
        raise BitbenchError(f"grid '{source}' has no [[run]] entries: add at least one")
    runs = tuple(_parse_run(raw, i + 1, source) for i, raw in enumerate(runs_raw))
    names = [r.name for r in runs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BitbenchError(
            f"grid '{source}' has duplicate run names {dupes}: names are directories"
        )
    _check_eval(evaluation, source)

    tables = parse_tables(doc.get("tables", {}), source)
    return AblationGrid(source, title, config, flatten(base), dict(evaluation), runs, tables)


def _check_eval(evaluation: dict[str, Any], source: str) -> None:
    known = tuple(f.name for f in dataclasses.fields(EvalSettings))
    for key in evaluation:
        if key not in known:
            raise _unknown(f"'{source}' [eval]", key, known)
    try:
        EvalSettings(**evaluation)
    except TypeError as exc:
        raise BitbenchError(f"grid '{source}' [eval]: {exc}") from None


def load_grid(path: str | Path) -> AblationGrid:
    """Read a grid file; ``"default"`` is the shipped grid of the four ablations."""
    resolved = default_grid_path() if str(path) == DEFAULT_GRID else Path(path)
    try:
        text = resolved.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BitbenchError(
            f"grid file '{resolved}' does not exist: pass a TOML file or --grid default"
        ) from None
    except OSError as exc:
        raise BitbenchError(f"cannot read grid file '{resolved}': {exc.strerror}") from None
    return parse_grid(text, str(resolved))
