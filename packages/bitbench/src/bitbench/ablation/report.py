"""The comparison of an ablation grid: ablation.md (one table of every run of the grid x every
yardstick, mean ± sd over seeds; then every seed; then what was not measured and why),
ablation.json (the same, with every row), ablation.png (one panel per yardstick: the seeds' mean,
their spread and each seed) and ablation_curves.png (validation bpb against training FLOPs)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from bittrain.figures import colour_cycle, new_figure, save_figure
from bittrain.fileio import clean_for_json, write_json_atomic, write_text_atomic
from bittrain.runs import read_metrics_log

from bitbench.ablation.grid import AblationGrid
from bitbench.ablation.scoring import Stage
from bitbench.ablation.summary import Column, fmt_stat
from bitbench.curves import run_curve
from bitbench.evaluate import EvalSettings

PANELS_PER_ROW = 4


def _cell(value: Any) -> str:
    return "-" if value is None else str(value).replace("|", "\\|")


def _tflop(stat: dict[str, Any]) -> str:
    mean = stat.get("mean")
    return "-" if mean is None else f"{mean / 1e12:.3g}"  # 42.6, and 0.00506 at toy budgets


def comparable_wall_clock(rows: list[dict[str, Any]]) -> bool:
    """Whether every run was trained alone (``--jobs 1``): only then compare wall-clock times."""
    return all((row.get("jobs") or 1) <= 1 for row in rows)


def _budget(grid: AblationGrid) -> str:
    parts = ", ".join(f"{k}={v}" for k, v in grid.base.items()) or "(trainer defaults)"
    return f"config `{grid.config}` with {parts}; seeds {list(grid.seeds)}"


def yardstick_lines(grid: AblationGrid, stages: list[Stage]) -> list[str]:
    """What each yardstick measured on: its data file and the fixed subset."""
    lines = []
    for stage in stages:
        s = stage.settings
        if stage.kind == "bpb":
            e = EvalSettings(**grid.eval)
            text = (f"{e.windows} val windows of {e.seq_len} bytes (seed {e.seed}), "
                    f"{e.mask_rate:.0%} hidden under {', '.join(e.protocols)}, chain rule")  # fmt: skip
        elif stage.kind == "qa":
            text = (f"`{s['data']}`: {s['max_questions']} test questions at most (seeded, split "
                    f"by article), {s['train_questions']} for the probe head; "
                    f"{', '.join(s['modes'])}")  # fmt: skip
        elif stage.kind == "probe":
            test = f"`{s['test']}`" if s["test"] else f"{s['test_fraction']:.0%} held out"
            text = (f"`{s['train']}` (at most {s['max_train']} texts) / {test} (at most "
                    f"{s['max_test']}), frozen features, logistic regression")  # fmt: skip
        else:
            text = (
                f"first {s['lines']} lines of `{s['gold']}`, signal `{s['signal']}`, SIGHAN word F"
            )
        lines.append(f"- {stage.key}: {text}")
    return lines


def render_markdown(
    grid: AblationGrid,
    rows: list[dict[str, Any]],
    summary: list[dict[str, Any]],
    cols: list[Column],
    command: str | None,
    stages: list[Stage] | None = None,
) -> str:
    lines = [f"# Ablations: {grid.title}", ""]
    if command:
        lines += ["Made by:", "", f"    {command}", ""]
    lines += [f"Every run: {_budget(grid)}. Cells are mean ± sd over the seeds that measured them "
              "(bpb lower is better, the rest higher). TFLOP: training FLOPs, every forward "
              "counted.", ""]  # fmt: skip
    if not comparable_wall_clock(rows):
        lines += ["Some runs were trained several at a time (`--jobs`): their wall-clock minutes "
                  "are not comparable with each other; the FLOPs are.", ""]  # fmt: skip
    header = ["ablation", "run", "changes", "seeds", "TFLOP", "steps", *(c.title for c in cols)]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for group in grid.groups():
        for entry in summary:
            if group not in entry["ablations"]:
                continue
            steps = entry["steps"].get("mean")
            cells = [group, entry["name"], _cell(entry["changes"]),
                     f"{len(entry['seeds'])} ({entry['status']})",
                     _tflop(entry["train_flops"]), "-" if steps is None else f"{steps:.0f}",
                     *(fmt_stat(entry["values"][c.key], c.digits) for c in cols)]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    if stages:
        lines += ["", "Yardsticks (fixed subsets, the same for every run):", "",
                  *yardstick_lines(grid, stages)]  # fmt: skip
    lines += ["", "## Every seed", ""]
    header = ["run", "seed", "status", "steps", "TFLOP", "train min", *(c.title for c in cols)]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        flops, secs = row.get("train_flops"), row.get("train_s")
        cells = [row["name"], str(row["seed"]), _cell(row["status"]), _cell(row.get("steps")),
                 "-" if flops is None else f"{flops / 1e12:.3g}",
                 "-" if secs is None else f"{secs / 60:.1f}",
                 *("-" if row["metrics"].get(c.key) is None
                   else f"{row['metrics'][c.key]:.{c.digits}f}" for c in cols)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    notes = _not_measured(rows)
    if notes:
        lines += ["", "## Not measured", "", *notes]
    return "\n".join(lines) + "\n"


def _not_measured(rows: list[dict[str, Any]]) -> list[str]:
    """One line per run that did not run, and per yardstick skipped or failed (once per reason)."""
    notes: list[str] = []
    seen: set[tuple[str, str]] = set()
    for row in rows:
        if row["status"] in ("unavailable", "failed") and row.get("reason"):
            notes.append(f"- `{row['name']}` seed {row['seed']} ({row['status']}): {row['reason']}")
        elif row.get("reason"):
            notes.append(f"- `{row['name']}` seed {row['seed']}: {row['reason']}")
        for key, stage in row.get("stages", {}).items():
            if stage["status"] in ("skipped", "failed") and (key, stage["reason"]) not in seen:
                seen.add((key, stage["reason"]))
                notes.append(f"- {key} {stage['status']}: {stage['reason']}")
    return notes


def _zoom(stats: list[dict[str, Any]]) -> tuple[float, float]:
    """x limits around every seed's value and every mean ± sd: the differences between runs,
    not the distance from 0, are the point; equal values get a visible margin."""
    values = [v for st in stats for v in st["values"]]
    ends = list(values)
    ends += [st["mean"] + sign * (st["sd"] or 0.0) for st in stats if st["mean"] is not None
             for sign in (-1, 1)]  # fmt: skip
    low, high = min(ends), max(ends)
    pad = 0.1 * (high - low) if high > low else 0.05 * max(abs(high), 1.0)
    nonnegative = min(values, default=0.0) >= 0  # an sd bar does not make a score negative
    return (max(0.0, low - pad) if nonnegative else low - pad), high + pad


def plot_yardsticks(summary: list[dict[str, Any]], cols: list[Column], path: Path) -> Path | None:
    """One panel per yardstick: a bar per run of the grid (mean over seeds), its sd as an error
    bar and each seed as a dot."""
    panels = [c for c in cols if any(e["values"][c.key]["n"] for e in summary)]
    if not panels:
        return None
    n_rows = math.ceil(len(panels) / PANELS_PER_ROW)
    n_cols = min(PANELS_PER_ROW, len(panels))
    height = 0.8 + 0.28 * len(summary)
    fig = new_figure((3.6 * n_cols + 1.6, height * n_rows + 0.4))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    colours = colour_cycle()
    names = [e["name"] for e in summary]
    for i, ax in enumerate(axes.flat):
        if i >= len(panels):
            ax.set_visible(False)
            continue
        col = panels[i]
        for y, entry in enumerate(summary):
            stat = entry["values"][col.key]
            if stat["mean"] is None:
                continue
            colour = colours[y % len(colours)]
            ax.barh(y, stat["mean"], color=colour, alpha=0.55, xerr=stat["sd"] or 0.0,
                    error_kw={"elinewidth": 1, "capsize": 2})  # fmt: skip
            ax.plot(stat["values"], [y] * len(stat["values"]), "o", color="black", markersize=2.5)
        ax.set_yticks(range(len(names)), names if i % n_cols == 0 else [""] * len(names),
                      fontsize=7)  # fmt: skip
        ax.invert_yaxis()
        better = "higher" if col.higher_is_better else "lower"
        ax.set_title(f"{col.title} ({better} is better)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlim(*_zoom([e["values"][col.key] for e in summary]))
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)


def plot_curves(
    summary: list[dict[str, Any]], rows: list[dict[str, Any]], path: Path, protocol: str
) -> Path | None:
    """Validation bpb (``protocol``, one pass; bitbench.curves) against training FLOPs, one line
    per run of the grid and seed: at equal FLOPs the runs end at the same x."""
    fig = new_figure((7, 4))
    ax = fig.subplots()
    colours = colour_cycle()
    names = [e["name"] for e in summary]
    metrics: set[str] = set()
    for row in rows:
        records = read_metrics_log(Path(row["run_dir"]) / "metrics.jsonl")
        curve = run_curve(row["name"], records, protocol=protocol)
        if not len(curve):
            continue
        metrics.add(curve.metric)
        first_seed = row["seed"] == summary[names.index(row["name"])]["seeds"][0]
        ax.plot(curve.flops / 1e12, curve.bpb, marker="o", markersize=2, linewidth=1,
                color=colours[names.index(row["name"]) % len(colours)],
                label=row["name"] if first_seed else None)  # fmt: skip
    if not metrics:
        return None
    ax.set_xlabel("training TFLOP")
    ax.set_ylabel(f"val bpb ({', '.join(sorted(metrics))})")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)


def write_report(
    grid: AblationGrid,
    rows: list[dict[str, Any]],
    summary: list[dict[str, Any]],
    cols: list[Column],
    out_dir: str | Path,
    command: str | None = None,
    stages: list[Stage] | None = None,
) -> dict[str, Path]:
    out = Path(out_dir)
    written = {}
    doc = {"title": grid.title, "grid": grid.source, "config": grid.config, "base": grid.base,
           "seeds": list(grid.seeds), "eval": grid.eval, "score": grid.score, "command": command,
           "wall_clock_comparable": comparable_wall_clock(rows),
           "columns": [c.__dict__ for c in cols], "variants": summary, "runs": rows}  # fmt: skip
    write_json_atomic(out / "ablation.json", clean_for_json(_plain(doc)))
    written["ablation.json"] = out / "ablation.json"
    write_text_atomic(
        out / "ablation.md", render_markdown(grid, rows, summary, cols, command, stages)
    )
    written["ablation.md"] = out / "ablation.md"
    protocol = EvalSettings(**grid.eval).protocols[0]
    curves = plot_curves(summary, rows, out / "ablation_curves.png", protocol)
    for name, made in (("ablation.png", plot_yardsticks(summary, cols, out / "ablation.png")),
                       ("ablation_curves.png", curves)):  # fmt: skip
        if made is not None:
            written[name] = made
    return written


def _plain(value: Any) -> Any:
    """Dataclasses (the score settings) as dicts, for JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
