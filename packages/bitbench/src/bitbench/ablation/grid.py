"""Ablation grid files (TOML): what to train, with which differences, at one shared budget.

```toml
title = "seed 5.4 ablations"      # optional
config = "tiny"                   # trainer config every run starts from (shipped name or file)
extends = "default"               # optional: start from another grid (a shipped name, or a file
                                  # relative to this one); tables merge key by key, [[run]]
                                  # entries given here replace the parent's

seeds = [0, 1]                    # every run is trained once per seed (default: [base] seed)
data_root = "../shared/data"      # where the [score] data files are (see score_config.py)

[base]                            # trainer keys applied to every run: the shared budget lives here
max_flops = 2e13                  # equal training FLOPs for every run (max_steps is then a cap)
max_steps = 100000
"mask.unit" = "epoch"             # dotted keys reach the [model] / [mask] / [corruption] tables

[eval]                            # bitbench EvalSettings for the bpb evaluation of every run
windows = 64

[score]                           # QA, the classification probe, segmentation: score_config.py

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

Runs may not change the budget (``BUDGET_KEYS``): equal-budget comparisons are the point. A run
of the grid is one entry trained with one seed, in OUT/<name>/seed-<k>.
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

from bitbench.ablation.score_config import ScoreSettings, parse_score
from bitbench.ablation.tables import parse_tables
from bitbench.errors import BitbenchError
from bitbench.evaluate import EvalSettings

TOP_KEYS = (
    "title",
    "config",
    "extends",
    "seeds",
    "data_root",
    "base",
    "eval",
    "score",
    "tables",
    "run",
)
RUN_KEYS = ("name", "ablation", "set", "requires", "note")
# Keys that define the budget: only [base] and the command line may set them.
BUDGET_KEYS = ("max_steps", "max_minutes", "max_flops", "seed", "batch_size", "grad_accum",
               "seq_len", "corpus", "out")  # fmt: skip
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_GRID = "default"
MAX_EXTENDS = 8  # how deep grids may extend each other (a loop is an error, not a hang)


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
    seeds: tuple[int, ...] = (0,)
    data_root: str = ""  # relative [score] data paths are read under it ("" = working dir)
    score: ScoreSettings = field(default_factory=ScoreSettings)

    def groups(self) -> list[str]:
        """Ablation groups in first-appearance order."""
        seen: list[str] = []
        for run in self.runs:
            for group in run.ablations:
                if group not in seen:
                    seen.append(group)
        return seen


def shipped_grid_path(name: str) -> Path:
    """A grid shipped with bitbench (bitbench/grids/<name>.toml; ``default`` is the masking
    study with the rest of seed 5.4, masking.toml; ``smoke`` is that grid at a toy budget)."""
    file = "masking.toml" if name == DEFAULT_GRID else f"{name}.toml"
    return Path(str(resources.files("bitbench.grids").joinpath(file)))


def default_grid_path() -> Path:
    """The shipped grid of the masking study and seed section 5.4's ablations."""
    return shipped_grid_path(DEFAULT_GRID)


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


def _read_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BitbenchError(f"grid '{source}' is not valid TOML: {exc}") from None


def merged(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` over ``parent``: tables merge key by key, anything else (lists included, so
    [[run]] entries) is replaced."""
    out = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def _resolve_grid_file(name: str, relative_to: Path | None) -> Path:
    """A grid file path, or a shipped grid's name (``default``, ``smoke``)."""
    path = Path(name)
    if not path.suffix and not path.exists() and shipped_grid_path(name).is_file():
        return shipped_grid_path(name)
    if relative_to is not None and not path.is_absolute():
        return relative_to / path
    return path


def _extended(doc: dict[str, Any], source: str, chain: tuple[str, ...]) -> dict[str, Any]:
    """``doc`` with its ``extends`` chain applied (parents first)."""
    if "extends" not in doc:
        return doc
    parent_name = doc["extends"]
    if not isinstance(parent_name, str) or not parent_name:
        raise BitbenchError(f"grid '{source}': extends must be a grid name or file (a string)")
    parent = _resolve_grid_file(parent_name, Path(source).parent)
    if str(parent) in chain or len(chain) >= MAX_EXTENDS:
        raise BitbenchError(
            f"grid '{source}' extends '{parent_name}', which leads back to itself: "
            "break the loop of extends"
        )
    parent_doc = _extended(_read_toml(_read_text(parent), str(parent)), str(parent),
                           (*chain, str(parent)))  # fmt: skip
    child = {k: v for k, v in doc.items() if k != "extends"}
    return merged(parent_doc, child)


def parse_grid(text: str, source: str = "grid") -> AblationGrid:
    """A grid from its TOML text (``source`` names it in errors and anchors ``extends``)."""
    doc = _extended(_read_toml(text, source), source, (source,))
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
    base = flatten(base)
    seeds = _seeds(doc, base, source)
    base.pop("seed", None)  # each run's seed comes from seeds
    data_root = doc.get("data_root", "")
    if not isinstance(data_root, str):
        raise BitbenchError(f"grid '{source}': data_root must be a directory path (a string)")
    tables = parse_tables(doc.get("tables", {}), source)
    score = parse_score(doc.get("score", {}), source)
    return AblationGrid(source, title, config, base, dict(evaluation), runs, tables, seeds,
                        data_root, score)  # fmt: skip


def _seeds(doc: dict[str, Any], base: dict[str, Any], source: str) -> tuple[int, ...]:
    """``seeds = [0, 1]``, or the one [base] seed (default 0); not both."""
    if "seeds" not in doc:
        seed = base.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise BitbenchError(f"grid '{source}' [base] seed must be an integer")
        return (seed,)
    if "seed" in base:
        raise BitbenchError(
            f"grid '{source}' has seeds and [base] seed: keep seeds = [...] (every run once per seed)"
        )
    seeds = doc["seeds"]
    ok = (
        isinstance(seeds, list)
        and seeds
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    )
    if not ok or len(set(seeds)) != len(seeds):
        raise BitbenchError(
            f"grid '{source}': seeds must be a list of distinct integers >= 0, e.g. seeds = [0, 1]"
        )
    return tuple(seeds)


def _check_eval(evaluation: dict[str, Any], source: str) -> None:
    known = tuple(f.name for f in dataclasses.fields(EvalSettings))
    for key in evaluation:
        if key not in known:
            raise _unknown(f"'{source}' [eval]", key, known)
    try:
        EvalSettings(**evaluation)
    except TypeError as exc:
        raise BitbenchError(f"grid '{source}' [eval]: {exc}") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BitbenchError(
            f"grid file '{path}' does not exist: pass a TOML file or a shipped grid "
            "(--grid default, --grid smoke)"
        ) from None
    except OSError as exc:
        raise BitbenchError(f"cannot read grid file '{path}': {exc.strerror}") from None


def load_grid(path: str | Path) -> AblationGrid:
    """Read a grid file, or a shipped grid by name (``default``, ``smoke``)."""
    resolved = _resolve_grid_file(str(path), None)
    return parse_grid(_read_text(resolved), str(resolved))
