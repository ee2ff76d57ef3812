"""Encoding tables an ablation grid builds before its runs (``[tables.<name>]``), so that runs
can start from the same table (``set = { table_codes = "@tables.<name>" }``): the fixed vs
adaptive table ablation needs a table that exists before training.

A table is grown with enctable from seeded windows of the corpus's train split, cut at a
model-free prior (``whitespace`` word starts or ``punctuation`` class changes), and saved in
OUT/tables/<name> (reused when it is already there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from enctable import AdaptiveEncodingTable
from enctable.priors import punctuation_starts, whitespace_starts

from bitbench.errors import BitbenchError

log = logging.getLogger(__name__)

PRIORS = ("whitespace", "punctuation")
TABLE_KEYS = ("prior", "windows", "seq_len", "batch", "levels", "max_size", "seed")
REFERENCE_PREFIX = "@tables."


@dataclass(frozen=True)
class PriorTable:
    name: str
    prior: str = "whitespace"
    windows: int = 512
    seq_len: int = 512
    batch: int = 32
    levels: int = 4
    max_size: int = 10000
    seed: int = 0


def parse_tables(raw: Any, source: str) -> dict[str, PriorTable]:
    if not isinstance(raw, dict):
        raise BitbenchError(f"grid '{source}': [tables] must hold [tables.<name>] tables")
    tables = {}
    for name, spec in raw.items():
        where = f"grid '{source}' [tables.{name}]"
        if not isinstance(spec, dict):
            raise BitbenchError(
                f'{where} must be a table, e.g. [tables.{name}] prior = "whitespace"'
            )
        for key in spec:
            if key not in TABLE_KEYS:
                raise BitbenchError(f"{where}: unknown key '{key}': use {', '.join(TABLE_KEYS)}")
        table = PriorTable(name=name, **spec)
        if table.prior not in PRIORS:
            raise BitbenchError(f"{where}: prior {table.prior!r} is not one of {', '.join(PRIORS)}")
        for key in ("windows", "seq_len", "batch", "levels", "max_size"):
            if not isinstance(getattr(table, key), int) or getattr(table, key) < 1:
                raise BitbenchError(f"{where}: {key} must be a positive integer")
        tables[name] = table
    return tables


def table_dir(out_dir: str | Path, name: str) -> Path:
    return Path(out_dir) / "tables" / name


def resolve_references(
    overrides: dict[str, Any], tables: dict[str, PriorTable], out_dir: str | Path, run: str
) -> dict[str, Any]:
    """Replace "@tables.<name>" values by the table's directory."""
    resolved = {}
    for key, value in overrides.items():
        if isinstance(value, str) and value.startswith(REFERENCE_PREFIX):
            name = value[len(REFERENCE_PREFIX) :]
            if name not in tables:
                raise BitbenchError(
                    f"grid run '{run}' sets {key} = {value!r} but the grid has no "
                    f"[tables.{name}]: add it or fix the name"
                )
            value = str(table_dir(out_dir, name))
        resolved[key] = value
    return resolved


def _starts(windows: np.ndarray, prior: str) -> np.ndarray:
    fn = whitespace_starts if prior == "whitespace" else punctuation_starts
    return np.stack([fn(row) for row in windows]).astype(np.float64)  # [B, L]


def build_table(table: PriorTable, corpus: Any, out_dir: str | Path) -> Path:
    """Grow and save the table (or reuse OUT/tables/<name> when it exists)."""

    path = table_dir(out_dir, table.name)
    if path.is_dir() and any(path.iterdir()):
        return path
    split = corpus.train
    length = min(table.seq_len, int(split.num_bytes))
    rng = np.random.default_rng(table.seed)
    grown = AdaptiveEncodingTable(levels=table.levels, max_size=table.max_size)
    done = 0
    while done < table.windows:
        n = min(table.batch, table.windows - done)
        windows, _ = split.sample_windows(n, length, rng)
        grown.update_tables(
            np.ascontiguousarray(windows, dtype=np.uint8), _starts(windows, table.prior)
        )
        done += n
    path.parent.mkdir(parents=True, exist_ok=True)
    grown.save(path)
    log.info("built table %s from the %s prior (%d windows)", path, table.prior, table.windows)
    return path


def build_referenced_tables(
    tables: dict[str, PriorTable], overrides: list[dict[str, Any]], corpus: Any, out_dir: str | Path
) -> list[Path]:
    """Build the tables whose directories appear among the runs' (resolved) overrides."""
    wanted = {str(table_dir(out_dir, name)): table for name, table in tables.items()}
    used = {value for o in overrides for value in o.values() if isinstance(value, str)}
    return [build_table(table, corpus, out_dir) for path, table in wanted.items() if path in used]
