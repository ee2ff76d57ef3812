"""Run directories as ``bitlab train`` writes them (docs/interfaces.md "Run directory"): where
the parts of a run live and what the trainer left beside the model (config.toml, metrics.jsonl,
the encoding table). Loading the model itself is :mod:`bittrain.runs`.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bittokens import DEFAULT_UNIT_BYTES
from enctable import AdaptiveEncodingTable

from bittrain.errors import BittrainError

log = logging.getLogger(__name__)

# What `bitlab train` writes into a run directory (docs/architecture.md "Run directory"), and
# `bitlab eval` into RUN/eval: a folder holding any of these holds a run (a fresh start there
# is refused), and `--overwrite` removes exactly these, nothing else the folder holds.
# A token baseline's tokenizer.json is among them: a run replaced with --overwrite must not
# reuse the old run's tokenizer.
RUN_ENTRIES = ("checkpoints", "model", "table", "plots", "eval", "tensorboard", "config.toml",
               "metrics.jsonl", "env.json", "train.log", "tokenizer.json",
               "tokenizer_stats.json")  # fmt: skip


def run_entries(run_dir: str | Path) -> list[str]:
    """The RUN_ENTRIES present in ``run_dir`` ([] for a missing or empty folder)."""
    folder = Path(run_dir)
    return [name for name in RUN_ENTRIES if os.path.lexists(folder / name)]


@dataclass(frozen=True)
class RunInfo:
    """Where the parts of a run live. ``run_dir`` is the model dir's parent for a ``RUN/model``
    layout, or the model dir itself when a bare model directory was given."""

    run_dir: Path
    model_dir: Path
    model_type: str
    model_config: dict[str, Any]

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    @property
    def table_dir(self) -> Path | None:
        path = self.run_dir / "table"
        return path if path.is_dir() else None

    @property
    def config_path(self) -> Path:
        return self.run_dir / "config.toml"

    @property
    def kind(self) -> str:
        if (self.model_dir / "bitbench.json").is_file():
            return "hf-bert"
        return {"bitswin": "bitswin", "byte_mlm": "byte", "bpe_mlm": "bpe"}.get(
            self.model_type, "hf"
        )


def _read_model_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BittrainError(
            f"'{path}' is not valid JSON ({exc.msg} at line {exc.lineno}): re-save the model"
        ) from exc
    except OSError as exc:
        raise BittrainError(f"cannot read '{path}': {exc.strerror}") from exc
    if not isinstance(raw, dict):
        raise BittrainError(f"'{path}' is not a JSON object: re-save the model")
    return raw


def is_hf_masked_lm(config: dict[str, Any], model_dir: Path) -> bool:
    """A Hugging Face masked-LM directory (an hf-bert run's model/, or any other)."""
    archs = config.get("architectures") or []
    return (model_dir / "bitbench.json").is_file() or any("MaskedLM" in str(a) for a in archs)


def inspect_run(run_dir: str | Path) -> RunInfo:
    """Find the model of a run directory and its type, or say what is wrong."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise BittrainError(
            f"run directory '{run_dir}' does not exist: pass the --out of bitlab train"
        )
    if not run_dir.is_dir():
        raise BittrainError(
            f"'{run_dir}' is a file, not a run directory: pass the --out of bitlab train"
        )
    if (run_dir / "model" / "config.json").is_file():
        model_dir, base = run_dir / "model", run_dir
    elif (run_dir / "config.json").is_file():
        model_dir, base = run_dir, run_dir
        if (run_dir.parent / "metrics.jsonl").is_file() and run_dir.name == "model":
            base = run_dir.parent
    else:
        raise BittrainError(
            f"'{run_dir}' has no model/config.json: it is not a finished bitlab run (train it to "
            "the end, or pass a directory written by save_pretrained)"
        )
    config = _read_model_config(model_dir)
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise BittrainError(
            f"'{model_dir / 'config.json'}' names no model_type: it was not written by a bitlab "
            "model's save_pretrained"
        )
    return RunInfo(
        run_dir=base, model_dir=model_dir, model_type=str(model_type), model_config=config
    )


# --- what the trainer left beside the model ---------------------------------------------------


def read_metrics_log(path: str | Path) -> list[dict[str, Any]]:
    """The JSON objects of a metrics.jsonl ([] when missing). A torn last line (a run killed
    mid-write) is skipped; a bad line elsewhere is an error naming the line."""
    path = Path(path)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                log.warning("%s: skipping a torn last line", path)
                continue
            raise BittrainError(
                f"'{path}' line {number} is not JSON ({exc.msg}): fix or remove that line"
            ) from exc
        if isinstance(record, dict):
            records.append(record)
    return records


def read_run_config(info: RunInfo) -> dict[str, Any]:
    """RUN/config.toml as a dict ({} when the run has none)."""
    path = info.config_path
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BittrainError(f"'{path}' is not valid TOML ({exc}): fix the file") from exc


def _walk(tree: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _walk(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, tree


def find_setting(tree: dict[str, Any], *names: str) -> Any:
    """The first value whose dotted path ends with one of ``names`` (in the order of names)."""
    flat = list(_walk(tree))
    for name in names:
        for path, value in flat:
            if path == name or path.endswith("." + name):
                return value
    return None


def target_unit_bytes(info: RunInfo, default: float = DEFAULT_UNIT_BYTES) -> float:
    """The mean unit length the run trained its units towards (bitmask's ``target_unit_bytes``)."""
    value = find_setting(read_run_config(info), "target_unit_bytes")
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def boundary_source(info: RunInfo) -> str:
    """Where the run's units came from: "entropy" (byte-prediction entropy) or the boundary head
    ("model"; also used for runs trained on whitespace / class priors)."""
    return (
        "entropy"
        if find_setting(read_run_config(info), "boundary_source") == "entropy"
        else "model"
    )


def code_table_of(info: RunInfo) -> tuple[Any, int]:
    """(table, level) whose codes the model takes as input, or (None, 0) for a model without
    codes. Adaptive runs use their final RUN/table; fixed ones the table named by ``table_codes``
    in RUN/config.toml (as written, or relative to the run directory)."""
    if int(info.model_config.get("code_vocab_size") or 0) <= 0:
        return None, 0
    config = read_run_config(info)
    level = int(find_setting(config, "table_code_level") or 2)
    mode = find_setting(config, "table_mode") or "fixed"
    named = find_setting(config, "table_codes") or ""
    candidates = []
    if mode == "adaptive" and info.table_dir is not None:
        candidates.append(info.table_dir)
    if named:
        candidates += [Path(named), info.run_dir / named]
    if info.table_dir is not None:
        candidates.append(info.table_dir)
    for path in candidates:
        if Path(path).is_dir():
            return AdaptiveEncodingTable.load(path), level
    raise BittrainError(
        f"the model in '{info.model_dir}' takes encoding-table codes but its table was not found "
        f"(table_codes = {named!r}, no {info.run_dir / 'table'}): put the table back there"
    )
