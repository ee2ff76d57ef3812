"""RUN/metrics.jsonl: one JSON object per logged training step (``"kind": "train"``) or
validation (``"kind": "val"``). Only rank 0 writes it.

A key means one thing wherever bitlab writes it: a number computed differently from the
evaluation's (``bitlab eval``'s metrics.json) gets a name of its own (``row_keys``):

- train rows: step, phase, lr, loss, ``loss_<task>`` per task, ``train_acc_<level>`` (accuracy
  on the positions this step's training masks hid), ``train_bpb_<...>``, bits_per_s, grad_norm,
  elapsed_s, train_flops (cumulative, every forward counted; first steps of a curriculum phase
  also step_flops and step_flops_measured);
- val rows: ``val_bpb_masked`` (bits per byte under the task's own fixed-seed mask, one pass),
  ``val_acc_<level>`` (the task's fixed-seed accuracies), ``bpb_<protocol>_one_pass`` (the
  evaluation protocols' hidden bytes, one pass: the same key and meaning as in eval's
  metrics.json), the task's other validation numbers, train_flops, elapsed_s.

Runs written before these names used ``acc_<level>`` and ``bpb`` in both kinds of rows and
``bpb_<protocol>`` for the one-pass protocol numbers; readers accept both.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from bittrain.fileio import write_text_atomic
from bittrain.logs import FILE_ONLY

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
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def row_keys(kind: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` under the row's names (see the module doc)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if kind == "train" and key.startswith(("acc_", "bpb")):
            key = f"train_{key}"
        elif kind == "val" and key == "bpb":
            key = "val_bpb_masked"
        elif kind == "val" and key.startswith("acc_"):
            key = f"val_{key}"
        elif kind == "val" and key.startswith("bpb_"):
            key = f"{key}_one_pass"
        out[key] = value
    return out


class TrainLog:
    """Rank 0's metrics rows with their cadence: per-step metrics are averaged over the steps
    since the last row (and over ranks), written every ``every`` steps, on the last step and on
    steps that carry a measurement (``force``); validation rows as they come. Also feeds
    TensorBoard when asked."""

    def __init__(
        self, run_dir: Path, *, every: int, ctx: Any, tensorboard: bool, bits_per_step: int
    ) -> None:
        self.every = every
        self.ctx = ctx
        self.bits_per_step = bits_per_step
        self._t_row = time.monotonic()
        self._file = MetricsLog(run_dir) if ctx.is_main else None
        self._board = _tensorboard(run_dir) if ctx.is_main and tensorboard else None
        self._sums: dict[str, float] = {}
        self._count = 0

    def add(self, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self._sums[key] = self._sums.get(key, 0.0) + float(value)
        self._count += 1

    def bits_per_s(self) -> float:
        """Input bits per second over the steps since the last row."""
        return self.bits_per_step * self._count / max(time.monotonic() - self._t_row, 1e-9)

    def due(self, step: int, *, last: bool, force: bool) -> bool:
        return last or force or step % self.every == 0

    def write_train(self, step: int, fields: dict[str, Any], main_extra: dict[str, Any]) -> None:
        """One train row: the averaged metrics, ``fields`` (the same on every rank) and
        ``main_extra`` (rank 0's own numbers). Every rank must call it (the mean is a
        collective)."""
        means = self._mean_over_ranks({k: v / max(self._count, 1) for k, v in self._sums.items()})
        rate = self.bits_per_s()
        self._sums, self._count, self._t_row = {}, 0, time.monotonic()
        row = {"kind": "train", "step": step, **fields, **row_keys("train", means), **main_extra,
               "bits_per_s": rate}  # fmt: skip
        self._emit(row, "train")

    def write_val(self, step: int, metrics: dict[str, Any], fields: dict[str, Any]) -> None:
        """``metrics`` as ``row_keys("val", ...)`` named them."""
        self._emit({"kind": "val", "step": step, **metrics, **fields}, "val")

    def _mean_over_ranks(self, metrics: dict[str, float]) -> dict[str, float]:
        if not self.ctx.distributed or not metrics:
            return metrics
        keys = sorted(metrics)
        values = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64)
        values = self.ctx.all_reduce_sum(values).cpu() / self.ctx.world_size
        return dict(zip(keys, values.tolist(), strict=True))

    def _emit(self, row: dict[str, Any], group: str) -> None:
        if self._file is not None:
            self._file.write(row)
        if self._board is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)) and key not in ("step", "kind"):
                    self._board.add_scalar(f"{group}/{key}", value, row["step"])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._board is not None:
            self._board.close()


def _tensorboard(run_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional extra: only when asked
    except ImportError:
        log.warning("tensorboard is not installed (pip install 'bittrain[tensorboard]'): skipped")
        return None
    return SummaryWriter(str(Path(run_dir) / "tensorboard"))
