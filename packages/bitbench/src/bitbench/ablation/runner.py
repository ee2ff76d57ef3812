"""Run a planned ablation: build the encoding tables the grid names, train each run
(bittrain.run_training), evaluate it with bitbench.evaluate; one result row per run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bitcodec.corpus_reader import open_corpus
from bittrain.fileio import clean_for_json
from bittrain.trainer.launcher import LaunchOptions

from bitbench.ablation.grid import AblationGrid
from bitbench.ablation.plan import PLANNED, REUSED, UNAVAILABLE, PlannedRun, changes_text
from bitbench.ablation.tables import build_referenced_tables
from bitbench.ablation.training import train_run
from bitbench.evaluate import EvalSettings, evaluate_run, write_outputs

log = logging.getLogger(__name__)

METRIC_KEYS = ("bpb", "acc_bit", "acc_byte", "acc_word", "acc_phrase", "boundary_f1",
               "consistency_auc", "flops_per_byte")  # fmt: skip


def evaluate_planned(
    planned: PlannedRun, corpus: str | Path, eval_settings: dict[str, Any], device: str = "cpu"
) -> dict[str, Any]:
    """bitbench.evaluate on the corpus, saved to RUN/eval; the metrics.json keys."""
    evaluation = evaluate_run(
        planned.run_dir, corpus=corpus, settings=EvalSettings(**eval_settings), device=device
    )
    write_outputs(evaluation, planned.run_dir / "eval", None)
    return clean_for_json(evaluation.metrics)


def prepare_tables(
    grid: AblationGrid, planned: list[PlannedRun], corpus: str | Path, out: str | Path
) -> list[Path]:
    """Build the encoding tables the runs still to train name (once; reused when present)."""
    to_train = [p.overrides for p in planned if p.status == PLANNED]
    if not grid.tables or not to_train:
        return []
    return build_referenced_tables(grid.tables, to_train, open_corpus(str(corpus)), out)


def _row(planned: PlannedRun) -> dict[str, Any]:
    return {
        "name": planned.name,
        "ablations": list(planned.run.ablations),
        "changes": changes_text(planned.run),
        "overrides": planned.run.overrides,
        "note": planned.run.note,
        "run_dir": str(planned.run_dir),
        "status": planned.status,
        "reason": planned.reason,
        "steps": None,
        "train_s": None,
        **dict.fromkeys(METRIC_KEYS),
    }


def run_ablation(
    grid: AblationGrid,
    planned: list[PlannedRun],
    corpus: str | Path,
    *,
    launch: LaunchOptions | None = None,
    eval_device: str = "cpu",
    progress: Callable[[str, str], None] | None = None,
    show_training: bool = True,
) -> list[dict[str, Any]]:
    """Train and evaluate every available run; one result row per run (failures recorded with
    their message, so that one bad run does not lose the others)."""
    rows = []
    for item in planned:
        row = _row(item)
        rows.append(row)
        if item.status == UNAVAILABLE:
            continue
        try:
            if item.status == PLANNED:
                if progress:
                    progress(item.name, "train")
                started = time.monotonic()
                result = train_run(grid, item.overrides, item.run_dir, corpus, launch=launch,
                                   progress=show_training)  # fmt: skip
                row["status"] = "stopped at time limit" if result.get("status") == "time" else "ok"
                row["train_s"] = float(result.get("elapsed_s", time.monotonic() - started))
            else:
                row["status"] = REUSED
            if progress:
                progress(item.name, "eval")
            metrics = evaluate_planned(item, corpus, grid.eval, eval_device)
        except Exception as exc:  # record and go on: the other runs still answer their question
            log.warning("ablation run %s failed: %s: %s", item.name, type(exc).__name__, exc)
            row["status"] = "failed"
            row["reason"] = f"{type(exc).__name__}: {exc}"
            continue
        for key in METRIC_KEYS:
            row[key] = metrics.get(key)
        row["steps"] = (metrics.get("training") or {}).get("steps")
    return rows


__all__ = ["REUSED", "evaluate_planned", "prepare_tables", "run_ablation"]
