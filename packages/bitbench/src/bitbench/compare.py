"""Compare several runs on one corpus (``bitlab compare``): one row per run, one markdown table,
the validation curves of all runs against training FLOPs and wall-clock on one plot, and each
run's bpb at the largest FLOP budget all of them reached (bitbench.curves).

A run's existing ``RUN/eval/metrics.json`` is reused when it was made on the same corpus with the
same settings and no gold segmentation; otherwise the run is evaluated (and that evaluation is
saved to ``RUN/eval`` when the directory is writable, so the next comparison is instant).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bittrain.fileio import clean_for_json, write_json_atomic, write_text_atomic
from bittrain.hidden.spans import PROTOCOLS
from bittrain.runs import inspect_run, read_metrics_log

from bitbench.curves import (
    Curve,
    bpb_at_common_budget,
    curve_as_dict,
    curve_from_dict,
    run_curve,
)
from bitbench.errors import BitbenchError
from bitbench.evaluate import (
    METRICS_VERSION,
    EvalSettings,
    evaluate_run,
    write_outputs,
)
from bitbench.out_dir import out_directory
from bitbench.plots import plot_bpb_vs_flops
from bitbench.report import render_compare_report

log = logging.getLogger(__name__)


def _resolved(corpus: str | Path) -> str:
    return str(corpus) if "://" in str(corpus) else str(Path(corpus).resolve())


def cached_metrics(
    run_dir: str | Path, corpus: str | Path, settings: EvalSettings
) -> dict[str, Any] | None:
    """RUN/eval/metrics.json when it matches this corpus and these settings, else None."""
    path = inspect_run(run_dir).run_dir / "eval" / "metrics.json"
    if not path.is_file():
        return None
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    same = (
        isinstance(metrics, dict)
        and metrics.get("corpus") == _resolved(corpus)
        and metrics.get("gold_seg") is None
        and metrics.get("version") == METRICS_VERSION
        and metrics.get("settings") == clean_for_json(settings.as_dict())
    )
    return metrics if same else None


def compare_row(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """The comparison columns of one run's metrics (the curve is added by compare_runs)."""
    table_l2 = bpe_l2 = None
    for level in (metrics.get("table") or {}).get("levels", []):
        if level.get("level") == 2:
            table_l2 = level["table"]["bytes_per_code"]
            bpe_l2 = (level.get("bpe") or {}).get("bytes_per_code")
    training = metrics.get("training") or {}
    return {
        "name": name,
        "run": metrics.get("run"),
        "kind": metrics.get("kind"),
        "num_params": metrics.get("num_params"),
        "lookup_params": metrics.get("lookup_params"),
        "steps": training.get("steps"),
        "train_flops": training.get("train_flops"),
        "flops_per_byte": metrics.get("flops_per_byte"),
        "protocol": metrics.get("protocol"),
        "bpb": metrics.get("bpb"),
        "bpb_one_pass": metrics.get("bpb_one_pass"),
        **{f"bpb_{p}": metrics.get(f"bpb_{p}") for p in PROTOCOLS},
        "hidden_digest": metrics.get("hidden_digest"),
        "acc_byte": metrics.get("acc_byte"),
        "acc_word": metrics.get("acc_word"),
        "boundary_f1": metrics.get("boundary_f1"),
        "consistency_auc": metrics.get("consistency_auc"),
        "consistency_auc_control": metrics.get("consistency_auc_control"),
        "table_l2_bytes_per_code": table_l2,
        "bpe_l2_bytes_per_code": bpe_l2,
    }


def _names(run_dirs: Sequence[str | Path]) -> list[str]:
    names = [Path(r).resolve().name for r in run_dirs]
    if len(set(names)) < len(names):  # same folder names: use the paths as given
        names = [str(r) for r in run_dirs]
    return names


def compare_runs(
    run_dirs: Sequence[str | Path],
    *,
    corpus: str | Path,
    settings: EvalSettings | None = None,
    device: str = "cpu",
    reuse: bool = True,
    progress: Callable[[str, str], None] | None = None,
    command_for: Callable[[str | Path], str] | None = None,
) -> list[dict[str, Any]]:
    """One comparison row per run (evaluating those without a matching saved evaluation)."""
    if not run_dirs:
        raise BitbenchError("no runs to compare: pass one or more run directories")
    settings = settings or EvalSettings()
    for run in run_dirs:
        inspect_run(run)  # fail on a bad directory before spending time on the others
    rows = []
    for name, run in zip(_names(run_dirs), run_dirs, strict=True):
        metrics = cached_metrics(run, corpus, settings) if reuse else None
        if metrics is None:
            evaluation = evaluate_run(
                run,
                corpus=corpus,
                settings=settings,
                device=device,
                progress=None if progress is None else (lambda stage, n=name: progress(n, stage)),
            )
            try:
                command = command_for(run) if command_for else None
                write_outputs(evaluation, inspect_run(run).run_dir / "eval", command)
            except (OSError, BitbenchError) as exc:  # read-only, or RUN/eval not bitlab's
                log.warning("could not save the evaluation of %s: %s", run, exc)
            metrics = clean_for_json(evaluation.metrics)
        elif progress is not None:
            progress(name, "cached")
        row = compare_row(name, metrics)
        row["curve"] = curve_as_dict(_curve(name, run, metrics, settings.protocols[0]))
        rows.append(row)
    curves = [curve_from_dict(r["name"], r["kind"], r["curve"]) for r in rows]
    budget, at_budget = bpb_at_common_budget(curves)
    for row in rows:
        row["common_flops"] = budget
        row["bpb_at_common_flops"] = at_budget[row["name"]]
        row["elapsed_s"] = max(
            (t for t in row["curve"]["elapsed_s"] if t is not None), default=None
        )
    return rows


def _curve(name: str, run: str | Path, metrics: dict[str, Any], protocol: str) -> Curve:
    info = inspect_run(run)
    training = metrics.get("training") or {}
    per_step = None
    if training.get("train_flops") and training.get("steps"):
        per_step = float(training["train_flops"]) / float(training["steps"])
    return run_curve(
        name,
        read_metrics_log(info.metrics_path),
        protocol=protocol,
        kind=metrics.get("kind"),
        flops_per_step=per_step,
    )


def write_compare(
    rows: list[dict[str, Any]], out_dir: str | Path, command: str | None = None
) -> dict[str, Path]:
    """compare.json, compare.md and bpb_vs_flops.png (validation bpb against training FLOPs
    and wall-clock, all runs on one axis each) into ``out_dir``."""

    out = out_directory(out_dir)
    written: dict[str, Path] = {}
    curves = [curve_from_dict(r["name"], r.get("kind"), r["curve"]) for r in rows if "curve" in r]
    plot = plot_bpb_vs_flops(rows, curves, out / "bpb_vs_flops.png")
    if plot is not None:
        written["plot"] = plot
    budget = next((r.get("common_flops") for r in rows), None)
    write_json_atomic(
        out / "compare.json",
        clean_for_json({"rows": rows, "common_flops": budget, "command": command}),
    )
    written["json"] = out / "compare.json"
    text = render_compare_report(rows, command, plot.name if plot is not None else None)
    write_text_atomic(out / "compare.md", text)
    written["report"] = out / "compare.md"
    return written
