"""Run a planned ablation: train each run (through a trainer callback, so that bitbench does
not depend on the CLI that owns the training loop), evaluate it with bitbench.evaluate, then
write one comparison table (ablation.md / ablation.json) and plots."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bittrain.fileio import clean_for_json

from bitbench.ablation.grid import AblationGrid
from bitbench.ablation.plan import PLANNED, REUSED, UNAVAILABLE, PlannedRun, changes_text
from bitbench.evaluate import EvalSettings, evaluate_run, write_outputs

log = logging.getLogger(__name__)

METRIC_KEYS = ("bpb", "acc_bit", "acc_byte", "acc_word", "acc_phrase", "boundary_f1",
               "consistency_auc", "flops_per_byte")  # fmt: skip

# train(planned) -> {"status": "ok" | "time", "step": int, "elapsed_s": float, ...}
TrainFn = Callable[[PlannedRun], dict[str, Any]]
# evaluate(planned) -> metrics dict (bitbench.evaluate's metrics.json keys)
EvalFn = Callable[[PlannedRun], dict[str, Any]]


def evaluator(corpus: str | Path, eval_settings: dict[str, Any], device: str = "cpu") -> EvalFn:
    """The default evaluation: bitbench.evaluate on the corpus, saved to RUN/eval."""

    settings = EvalSettings(**eval_settings)

    def evaluate(planned: PlannedRun) -> dict[str, Any]:
        evaluation = evaluate_run(planned.run_dir, corpus=corpus, settings=settings, device=device)
        write_outputs(evaluation, planned.run_dir / "eval", None)
        return clean_for_json(evaluation.metrics)

    return evaluate


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
    *,
    train: TrainFn,
    evaluate: EvalFn,
    progress: Callable[[str, str], None] | None = None,
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
                result = train(item)
                row["status"] = "stopped at time limit" if result.get("status") == "time" else "ok"
                row["train_s"] = float(result.get("elapsed_s", time.monotonic() - started))
            else:
                row["status"] = REUSED
            if progress:
                progress(item.name, "eval")
            metrics = evaluate(item)
        except Exception as exc:  # record and go on: the other runs still answer their question
            log.warning("ablation run %s failed: %s: %s", item.name, type(exc).__name__, exc)
            row["status"] = "failed"
            row["reason"] = f"{type(exc).__name__}: {exc}"
            continue
        for key in METRIC_KEYS:
            row[key] = metrics.get(key)
        row["steps"] = (metrics.get("training") or {}).get("steps")
    return rows


__all__ = ["REUSED", "EvalFn", "TrainFn", "evaluator", "run_ablation"]
