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
from bittrain.figures import new_figure, save_figure
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from bitbench.compression import rank_frequency
from bitbench.plot_fonts import char_label, label_font, needs_cjk, tick_style

LEVELS = ("bit", "byte", "word", "phrase")


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
    fig = new_figure((7, 4))
    ax = fig.subplots()
    for level, (steps, values) in series.items():
        if steps:
            ax.plot(steps, values, marker="o", markersize=3, label=f"acc_{level}")
    ax.set_xlabel("training step")
    ax.set_ylabel("accuracy on masked positions")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Masked-prediction accuracy per level over training")
    return save_figure(fig, path)


def plot_boundary_view(sample: dict[str, Any], path: Path) -> Path | None:
    """A few sentences, one column per character, labelled with the character itself (a CJK
    font where the machine has one, else code points turned upright; ``plot_fonts``): a bar of
    the start score per character (orange where a word is predicted to start; no bar inside a
    digit or Latin run), the decoder's centre as a dashed line, and under the bars one mark per
    word start: gold (black) and predicted (orange)."""
    fig = boundary_view_figure(sample)
    return None if fig is None else save_figure(fig, path)


def boundary_view_figure(sample: dict[str, Any]) -> Figure | None:
    """The figure of ``plot_boundary_view`` (None when no sentence has a character)."""
    sentences = [s for s in sample.get("sentences", []) if len(s["chars"])]
    if not sentences:
        return None
    font = label_font(cjk=any(needs_cjk(s["chars"]) for s in sentences))
    props = font.properties()
    labels = [[char_label(c, font) for c in s["chars"]] for s in sentences]
    style = tick_style([label for row in labels for label in row])
    width = max(len(s["chars"]) for s in sentences)
    row_height = 1.9 if style["rotation"] == 0 else 2.3  # room for labels turned upright
    fig = new_figure((max(7.0, 0.3 * width + 1.5), row_height * len(sentences)))
    axes = fig.subplots(len(sentences), 1, squeeze=False)
    centre = sample.get("threshold")
    for ax, sentence, row_labels in zip(axes[:, 0], sentences, labels, strict=True):
        chars = sentence["chars"]
        scores = np.asarray(sentence["scores"], dtype=np.float64)
        predicted = np.asarray(sentence["predicted"], dtype=bool)
        gold = np.asarray(sentence["gold"], dtype=bool)
        x = np.arange(len(chars))
        finite = np.isfinite(scores)
        values = scores[finite]
        low = float(min(values.min(initial=0.0), centre if centre is not None else 0.0))
        high = float(max(values.max(initial=1.0), centre if centre is not None else 1.0))
        span = (high - low) or 1.0
        low -= 0.05 * span  # the lowest score still gets a visible bar
        ax.bar(
            x[finite],
            values - low,
            bottom=low,
            color=np.where(predicted[finite], "tab:orange", "tab:blue"),
            width=0.8,
        )
        if centre is not None:
            ax.axhline(float(centre), color="tab:red", linestyle="--", linewidth=0.8)
        gold_y, pred_y = low - 0.18 * span, low - 0.36 * span
        ax.scatter(x[gold], np.full(int(gold.sum()), gold_y), marker="v", color="black", s=16)
        ax.scatter(
            x[predicted],
            np.full(int(predicted.sum()), pred_y),
            marker="^",
            color="tab:orange",
            s=16,
        )
        ax.set_yticks([gold_y, pred_y, low, high])
        ax.set_yticklabels(["gold", "predicted", f"{low:.2g}", f"{high:.2g}"], fontsize=7)
        ax.set_xticks(x)
        ax.set_xticklabels(row_labels, fontproperties=props, **style)
        ax.set_xlim(-0.6, width - 0.4)
        ax.set_ylim(low - 0.48 * span, low + 1.08 * span)
        ax.tick_params(axis="x", length=0)
    handles = [
        Patch(color="tab:orange", label="score, predicted word start"),
        Patch(color="tab:blue", label="score, no start"),
    ]
    if centre is not None:
        handles.append(Line2D([], [], color="tab:red", linestyle="--", label="decoder centre"))
    handles += [
        Line2D([], [], marker="v", color="black", linestyle="", label="gold word start"),
        Line2D([], [], marker="^", color="tab:orange", linestyle="", label="predicted word start"),
    ]
    fig.suptitle("Word starts: start scores, gold and predicted (one mark per character)")
    fig.tight_layout()
    fig.legend(
        handles=handles,
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=5,
        frameon=False,
    )
    return fig


def plot_rank_frequency(codes_by_label: dict[str, np.ndarray], path: Path) -> Path | None:
    """Log-log rank-frequency of codes per table level (and of the BPE reference)."""

    curves = {label: rank_frequency(codes) for label, codes in codes_by_label.items()}
    curves = {k: v for k, v in curves.items() if v.size}
    if not curves:
        return None
    fig = new_figure((6, 4.5))
    ax = fig.subplots()
    for label, counts in curves.items():
        style = "--" if label.startswith("BPE") else "-"
        ax.loglog(np.arange(1, counts.size + 1), counts, style, label=label)
    ax.set_xlabel("rank")
    ax.set_ylabel("frequency in the evaluation text")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title("Encoding table: rank-frequency of codes")
    return save_figure(fig, path)


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
    fig = new_figure((12, 4.5))
    (by_flops, by_time) = fig.subplots(1, 2, sharey=True)
    markers = {"bitswin": "o", "byte": "s", "bpe": "^", "hf-bert": "D"}
    for curve in drawn:
        own_mask = curve.metric in ("bpb", "val_bpb_masked")
        label = f"{curve.name} ({curve.kind})" + (" [own mask]" if own_mask else "")
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
    return save_figure(fig, path)


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


def plot_table_frequencies(table: Any, path: Path) -> Path:
    """Rank-frequency of every level's patterns in an encoding table (``bitlab table inspect``)."""
    fig = new_figure((6, 4))
    ax = fig.subplots()
    for level_table in table.tables:
        freq = np.sort(level_table.frequency)[::-1]
        if freq.shape[0]:
            ax.loglog(np.arange(1, freq.shape[0] + 1), freq, label=f"level {level_table.level}")
    ax.set_xlabel("rank")
    ax.set_ylabel("frequency (decayed count)")
    ax.set_title("encoding table: rank-frequency")
    if any(len(t) for t in table.tables):
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path, tight=False)
