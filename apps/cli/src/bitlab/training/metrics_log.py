"""RUN/metrics.jsonl: one JSON object per logged training step (``"kind": "train"``) or
validation (``"kind": "val"``). Only rank 0 writes it.

Train rows: step, phase, lr, loss, ``loss_<task>`` per task, ``acc_<level>`` per level, bits_per_s,
grad_norm, elapsed_s. Val rows: step, bpb and the task's other validation metrics.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from bitlab.logs import FILE_ONLY

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"


def _clean(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else (1e308 if value > 0 else -1e308)
    return value


class MetricsLog:
    """Appends rows to RUN/metrics.jsonl (flushed per row, so a killed run keeps its log)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open: one row per step)

    def write(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")
        self._fh.flush()
        log.info("%s", row_summary(row), extra={FILE_ONLY: True})  # RUN/train.log, not the console

    def close(self) -> None:
        self._fh.close()


def row_summary(row: dict[str, Any]) -> str:
    """One line of a metrics row for the run's log: `val step 200: bpb 2.31 acc_byte 0.412`."""
    parts = [f"{row.get('kind', 'train')} step {row.get('step')}:"]
    for key, value in row.items():
        if key in ("kind", "step") or not isinstance(value, (int, float)):
            continue
        parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    return " ".join(parts)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a kill: skip it
    return rows


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Keep only rows up to ``step`` (a resumed run re-logs the steps after its checkpoint)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return
    rows = [r for r in read_metrics(run_dir) if int(r.get("step", 0)) <= step]
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
