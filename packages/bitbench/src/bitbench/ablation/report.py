"""The comparison of an ablation: one markdown table (a run that serves several ablations, such
as the reference, appears in each), ablation.json, and two plots."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from bittrain.figures import colour_cycle, new_figure, save_figure
from bittrain.fileio import write_json_atomic
from bittrain.runs import read_metrics_log

from bitbench.ablation.grid import AblationGrid

COLUMNS = (("run", "name"), ("changes", "changes"), ("status", "status"), ("steps", "steps"),
           ("bpb", "bpb"), ("acc_bit", "acc_bit"), ("acc_byte", "acc_byte"),
           ("acc_word", "acc_word"), ("acc_phrase", "acc_phrase"),
           ("boundary_f1", "boundary_f1"), ("consistency", "consistency_auc"))  # fmt: skip


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.4f}"
    return str(value).replace("|", "\\|")


def render_markdown(grid: AblationGrid, rows: list[dict[str, Any]], command: str | None) -> str:
    lines = [f"# Ablations: {grid.title}", ""]
    if command:
        lines += ["Made by:", "", f"    {command}", ""]
    budget = ", ".join(f"{k}={v}" for k, v in grid.base.items()) or "(trainer defaults)"
    lines += [f"Every run starts from config `{grid.config}` with {budget}: the same budget and "
              "seed for all. bpb is bits per byte on the val split (lower is better); "
              "accuracies are at positions hidden by that level's mask.", ""]  # fmt: skip
    header = ["ablation", *(title for title, _ in COLUMNS)]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    for group in grid.groups():
        for row in rows:
            if group in row["ablations"]:
                cells = [group, *(_fmt(row.get(key)) for _, key in COLUMNS)]
                lines.append("| " + " | ".join(cells) + " |")
    notes = [r for r in rows if r.get("reason")]
    if notes:
        lines += ["", "## Not measured", ""]
        lines += [f"- `{r['name']}` ({r['status']}): {r['reason']}" for r in notes]
    return "\n".join(lines) + "\n"


def plot_bpb_bars(grid: AblationGrid, rows: list[dict[str, Any]], path: Path) -> Path | None:
    """bpb of every measured run, grouped by ablation."""
    entries = [(group, row) for group in grid.groups() for row in rows
               if group in row["ablations"] and isinstance(row.get("bpb"), (int, float))]  # fmt: skip
    if not entries:
        return None
    fig = new_figure((8, 1.2 + 0.35 * len(entries)))
    ax = fig.subplots()
    colours = colour_cycle()
    groups = grid.groups()
    labels = [f"{group}: {row['name']}" for group, row in entries]
    values = [row["bpb"] for _, row in entries]
    ax.barh(range(len(entries)), values,
            color=[colours[groups.index(g) % len(colours)] for g, _ in entries])  # fmt: skip
    ax.set_yticks(range(len(entries)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("bits per byte on val (lower is better)")
    ax.set_title(f"ablations: {grid.title}")
    for i, value in enumerate(values):
        ax.text(value, i, f" {value:.3f}", va="center", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)


def plot_curves(grid: AblationGrid, rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Validation bpb over training steps, one panel per ablation."""

    series: dict[str, list[tuple[str, list[float], list[float]]]] = {}
    for group in grid.groups():
        for row in rows:
            if group not in row["ablations"]:
                continue
            records = read_metrics_log(Path(row["run_dir"]) / "metrics.jsonl")
            points = [(r["step"], r["bpb"]) for r in records
                      if r.get("kind") == "val" and isinstance(r.get("bpb"), (int, float))]  # fmt: skip
            if points:
                steps, values = zip(*points, strict=True)
                series.setdefault(group, []).append((row["name"], list(steps), list(values)))
    if not series:
        return None
    fig = new_figure((4.5 * len(series), 3.6))
    axes = fig.subplots(1, len(series), squeeze=False)
    for ax, (group, lines) in zip(axes[0], series.items(), strict=True):
        for name, steps, values in lines:
            ax.plot(steps, values, marker="o", markersize=3, label=name)
        ax.set_title(group)
        ax.set_xlabel("step")
        ax.set_ylabel("val bpb")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)


def write_report(
    grid: AblationGrid, rows: list[dict[str, Any]], out_dir: str | Path, command: str | None = None
) -> dict[str, Path]:

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    doc = {"title": grid.title, "grid": grid.source, "config": grid.config, "base": grid.base,
           "eval": grid.eval, "command": command, "runs": rows}  # fmt: skip
    write_json_atomic(out / "ablation.json", doc)
    written["ablation.json"] = out / "ablation.json"
    md = out / "ablation.md"
    tmp = md.with_name(".ablation.md.tmp")
    tmp.write_text(render_markdown(grid, rows, command), encoding="utf-8")
    os.replace(tmp, md)
    written["ablation.md"] = md
    for name, fn in (("ablation_bpb.png", plot_bpb_bars), ("ablation_curves.png", plot_curves)):
        made = fn(grid, rows, out / name)
        if made is not None:
            written[name] = made
    return written
