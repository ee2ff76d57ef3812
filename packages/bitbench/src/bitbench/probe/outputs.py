"""probe.json (atomic) and a confusion-matrix PNG for a probe result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from bittrain.figures import new_figure, save_figure
from bittrain.fileio import write_json_atomic

from bitbench.out_dir import out_directory


def plot_confusion(result: dict[str, Any], path: Path) -> Path:
    cm = np.asarray(result["confusion"], dtype=np.float64)
    labels = result["labels"]
    rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)  # recall per true class
    size = 2.5 + 0.5 * len(labels)
    fig = new_figure((size, size))
    ax = fig.subplots()
    ax.imshow(rows, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center",
                    color="white" if rows[i, j] > 0.5 else "black")  # fmt: skip
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"probe: accuracy {result['accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f}")
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)


def write_probe_outputs(result: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    out = out_directory(out_dir)
    write_json_atomic(out / "probe.json", result)
    return {
        "probe.json": out / "probe.json",
        "confusion.png": plot_confusion(result, out / "confusion.png"),
    }
