"""PNG plots of an evaluation (matplotlib, Agg backend): accuracy per level over training, a
boundary view of sample text, table rank-frequency, and bpb against training FLOPs (compare).

Every function writes one file and returns its path, or None when there is nothing to draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

LEVELS = ("bit", "byte", "word", "phrase")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        _pyplot().close(fig)
    return path


def _level_series(records: Sequence[dict[str, Any]], level: str) -> tuple[list[float], list[float]]:
    """(steps, values) of acc_<level> in the log, accepting prefixes such as ``val/``."""
    steps, values = [], []
    for record in records:
        step = record.get("step")
        if not isinstance(step, (int, float)):
            continue
        for key, value in record.items():
            if (
                key == f"acc_{level}"
                or key.endswith(f"/acc_{level}")
                or key.endswith(f"_acc_{level}")
            ) and isinstance(value, (int, float)):
                if math.isfinite(float(value)):
                    steps.append(float(step))
                    values.append(float(value))
                break
    return steps, values


def _strip_leading_zeros(
    steps: list[float], values: list[float]
) -> tuple[list[float], list[float]]:
    """A level the curriculum has not switched on yet logs 0.0: start its curve at its first
    non-zero value."""
    first = next((i for i, v in enumerate(values) if v != 0.0), len(values))
    return steps[first:], values[first:]


def plot_accuracy_over_training(records: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Accuracy per masking level against the training step (from RUN/metrics.jsonl). Validation
    rows (``"kind": "val"``) are used when they carry accuracies, else the training rows."""
    val = [r for r in records if r.get("kind") == "val"]
    if any(_level_series(val, level)[0] for level in LEVELS):
        records = val
    series = {level: _strip_leading_zeros(*_level_series(records, level)) for level in LEVELS}
    if not any(steps for steps, _ in series.values()):
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for level, (steps, values) in series.items():
        if steps:
            ax.plot(steps, values, marker="o", markersize=3, label=f"acc_{level}")
    ax.set_xlabel("training step")
    ax.set_ylabel("accuracy on masked positions")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Masked-prediction accuracy per level over training")
    return _save(fig, path)


def byte_labels(data: bytes) -> list[str]:
    """One tick label per byte: the character at its first byte (visible marks for spaces and
    control bytes), '' at continuation bytes, U+XXXX for non-ASCII characters."""
    labels: list[str] = []
    i = 0
    while i < len(data):
        b = data[i]
        n = (
            1
            if b < 0x80
            else 2
            if b >> 5 == 0b110
            else 3
            if b >> 4 == 0b1110
            else 4
            if b >> 3 == 0b11110
            else 1
        )
        chunk = data[i : i + n]
        try:
            ch = chunk.decode("utf-8")
        except UnicodeDecodeError:
            ch, n = f"x{b:02x}", 1
        if ch == " ":
            label = "␣"
        elif ch == "\n":
            label = "\\n"
        elif len(ch) == 1 and ord(ch) < 0x20:
            label = f"x{ord(ch):02x}"
        elif len(ch) == 1 and ord(ch) >= 0x80:
            label = f"U+{ord(ch):04X}"
        else:
            label = ch
        labels.append(label)
        labels.extend([""] * (n - 1))
        i += n
    return labels


def plot_boundary_view(sample: dict[str, Any], path: Path) -> Path | None:
    """Bars of the boundary score per byte (coloured: predicted start or not), the threshold as
    a line, gold word starts marked with triangles below the axis."""
    data: bytes = sample["bytes"]
    if not data:
        return None
    scores = np.asarray(sample["scores"], dtype=np.float64)
    predicted = np.asarray(sample["predicted"], dtype=bool)
    gold = np.asarray(sample["gold"], dtype=bool)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(8, len(data) * 0.16), 3.6))
    x = np.arange(len(data))
    colours = np.where(predicted, "tab:orange", "tab:blue")
    ax.bar(x, scores, color=colours, width=0.85)
    ax.axhline(
        float(sample["threshold"]), color="tab:red", linestyle="--", linewidth=1, label="threshold"
    )
    low = float(min(scores.min(), sample["threshold"]))
    span = float(max(scores.max(), sample["threshold"]) - low) or 1.0
    ax.scatter(
        x[gold],
        np.full(int(gold.sum()), low - 0.08 * span),
        marker="^",
        color="black",
        s=18,
        label="gold start",
    )
    ax.set_xticks(x)
    ax.set_xticklabels(byte_labels(data), fontsize=7, family="monospace")
    ax.set_xlim(-0.6, len(data) - 0.4)
    ax.set_ylim(low - 0.15 * span, low + 1.1 * span)
    ax.set_ylabel("boundary score")
    from matplotlib.patches import Patch

    handles = [
        Patch(color="tab:orange", label="predicted start"),
        Patch(color="tab:blue", label="inside a unit"),
        *ax.get_legend_handles_labels()[0],
    ]
    ax.legend(handles=handles, fontsize=7, loc="upper right", ncol=4)
    ax.set_title("Model unit boundaries on sample text (bars) vs gold word starts (triangles)")
    return _save(fig, path)


def plot_rank_frequency(codes_by_label: dict[str, np.ndarray], path: Path) -> Path | None:
    """Log-log rank-frequency of codes per table level (and of the BPE reference)."""
    from bitbench.compression import rank_frequency

    curves = {label: rank_frequency(codes) for label, codes in codes_by_label.items()}
    curves = {k: v for k, v in curves.items() if v.size}
    if not curves:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for label, counts in curves.items():
        style = "--" if label.startswith("BPE") else "-"
        ax.loglog(np.arange(1, counts.size + 1), counts, style, label=label)
    ax.set_xlabel("rank")
    ax.set_ylabel("frequency in the evaluation text")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title("Encoding table: rank-frequency of codes")
    return _save(fig, path)


def plot_bpb_vs_flops(
    rows: Sequence[dict[str, Any]], curves: Sequence[Any], path: Path
) -> Path | None:
    """Validation bpb of every run against cumulative training FLOPs (left, log x) and against
    wall-clock (right), all runs on one axis each, the common FLOP budget as a dashed line; a run
    without validation rows is one point (its evaluation bpb at its training FLOPs)."""
    drawn = [c for c in curves if len(c)]
    points = [
        r for r in rows
        if r.get("bpb") is not None and r.get("train_flops")
        and not any(c.name == r["name"] for c in drawn)
    ]  # fmt: skip
    if not drawn and not points:
        return None
    plt = _pyplot()
    fig, (by_flops, by_time) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    markers = {"bitswin": "o", "byte": "s", "bpe": "^", "hf-bert": "D"}
    for curve in drawn:
        label = f"{curve.name} ({curve.kind})" + ("" if curve.metric != "bpb" else " [own mask]")
        label += " [FLOPs: steps x per step]" if curve.flops_source == "estimated" else ""
        marker = markers.get(curve.kind or "", "x")
        line = by_flops.plot(curve.flops, curve.bpb, marker=marker, markersize=3, label=label)[0]
        timed = ~np.isnan(curve.elapsed_s)
        if timed.any():
            by_time.plot(curve.elapsed_s[timed], curve.bpb[timed], marker=marker, markersize=3,
                         color=line.get_color(), label=label)  # fmt: skip
    for row in points:
        by_flops.scatter(row["train_flops"], row["bpb"], marker=markers.get(row.get("kind"), "x"),
                         s=40, label=f"{row['name']} ({row.get('kind')}, final eval)")  # fmt: skip
    budget = next((r.get("common_flops") for r in rows if r.get("common_flops")), None)
    if budget:
        by_flops.axvline(budget, color="grey", linestyle="--", linewidth=1, label="common budget")
    xs = [float(v) for c in drawn for v in c.flops] + [float(r["train_flops"]) for r in points]
    if min(xs) > 0 and max(xs) / min(xs) > 10:  # log x only over more than a decade
        by_flops.set_xscale("log")
    by_flops.set_xlabel("training FLOPs (cumulative, as logged)")
    by_flops.set_ylabel(f"validation bits per byte ({_metric_of(drawn, rows)})")
    by_time.set_xlabel("wall-clock (s)")
    for ax in (by_flops, by_time):
        ax.grid(alpha=0.3, which="both")
    by_flops.legend(fontsize=7)
    fig.suptitle("Validation bpb against training compute and time")
    return _save(fig, path)


def _metric_of(curves: Sequence[Any], rows: Sequence[dict[str, Any]]) -> str:
    """What the y axis shows: one protocol, or (older runs) each task's own mask."""
    metrics = {c.metric for c in curves}
    if (
        metrics
        and metrics <= {f"bpb_{p}" for p in ("words", "tokens", "bytes")}
        and len(metrics) == 1
    ):
        return f"protocol {metrics.pop()[4:]}"
    if "bpb" in metrics:
        return "[own mask]: each task's own"
    protocols = {r.get("protocol") for r in rows if r.get("protocol")}
    return f"protocol {protocols.pop()}, final eval" if len(protocols) == 1 else "masked"
