"""PNG plots of a run from RUN/metrics.jsonl: loss per task, accuracy per level, validation bpb."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bittrain.figures import new_figure, save_figure
from bittrain.trainer.metrics_log import read_metrics


def _series(rows: list[dict[str, Any]], prefix: str) -> dict[str, tuple[list[int], list[float]]]:
    series: dict[str, tuple[list[int], list[float]]] = {}
    for row in rows:
        for key, value in row.items():
            if key.startswith(prefix) and isinstance(value, (int, float)):
                steps, values = series.setdefault(key[len(prefix) :], ([], []))
                steps.append(int(row["step"]))
                values.append(float(value))
    return series


def write_plots(run_dir: Path) -> list[Path]:
    """Write RUN/plots/{loss,accuracy,validation}.png; returns the files written."""
    rows = read_metrics(run_dir)
    train = [r for r in rows if r.get("kind") == "train"]
    val = [r for r in rows if r.get("kind") == "val"]
    out = Path(run_dir) / "plots"
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(fig, name: str) -> None:
        path = out / name
        fig.tight_layout()
        save_figure(fig, path, dpi=110, tight=False)
        written.append(path)

    plans = [
        ("loss.png", train, "loss_", "training loss per task", "loss (nats)", True),
        ("accuracy.png", train, "train_acc_", "training accuracy per level", "accuracy", False),
        ("validation.png", val, "", "validation", "value", False),
    ]
    for name, source, prefix, title, ylabel, log in plans:
        if not source:
            continue
        if prefix:
            series = _series(source, prefix)
        else:
            series = {
                k: v for k, v in _series(source, "").items() if k not in ("step", "elapsed_s")
            }
            series = {k: v for k, v in series.items() if k.startswith(("val_", "bpb_"))}
        if prefix == "loss_" and any(isinstance(r.get("loss"), (int, float)) for r in source):
            series["total"] = (
                [int(r["step"]) for r in source if isinstance(r.get("loss"), (int, float))],
                [float(r["loss"]) for r in source if isinstance(r.get("loss"), (int, float))],
            )
        if not series:
            continue
        fig = new_figure((7, 4))
        ax = fig.subplots()
        for label, (steps, values) in sorted(series.items()):
            ax.plot(steps, values, label=label, marker="o" if len(steps) < 20 else None)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if log and all(v > 0 for _, vs in series.values() for v in vs):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        save(fig, name)
    return written
