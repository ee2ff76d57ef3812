"""Validation curves of a run (RUN/metrics.jsonl) against cumulative training FLOPs and
wall-clock, and every run's bpb at the largest budget all runs reached (``bitlab compare``).

A val row's bpb is ``bpb_<protocol>_one_pass`` (the trainer's validation under the evaluation
protocols; ``bpb_<protocol>`` in older runs) when the run logged it, else the task's own mask
(``val_bpb_masked``, ``bpb`` in older runs: not comparable across kinds; the curve says so in
``metric``). Its training FLOPs are the row's cumulative ``train_flops``,
else the train row's of the same step, else (older runs) steps x the run's FLOPs per step;
its wall-clock is the row's ``elapsed_s``, else the last train row's at or before that step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Curve:
    """One run's validation points, sorted by FLOPs. ``metric``: the key the bpb came from;
    ``flops_source``: "logged" or "estimated" (steps x FLOPs per step)."""

    name: str
    kind: str | None
    metric: str
    flops: np.ndarray  # float64 [K] cumulative training FLOPs at each val row
    elapsed_s: np.ndarray  # float64 [K] (NaN where unknown)
    bpb: np.ndarray  # float64 [K]
    flops_source: str = "logged"
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return int(self.bpb.size)

    def bpb_at(self, flops: float) -> float | None:
        """bpb at ``flops`` by linear interpolation between the val rows around it (None when
        the run did not reach it or has no rows)."""
        if not len(self) or flops > float(self.flops.max()) or flops < float(self.flops.min()):
            return None
        return float(np.interp(flops, self.flops, self.bpb))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def run_curve(
    name: str,
    records: list[dict[str, Any]],
    *,
    protocol: str,
    kind: str | None = None,
    flops_per_step: float | None = None,
) -> Curve:
    """The validation curve of one run's metrics.jsonl records (see the module doc)."""
    val = [r for r in records if r.get("kind") == "val" and _number(r.get("step")) is not None]
    train = sorted(
        (r for r in records if r.get("kind", "train") == "train" and _number(r.get("step"))),
        key=lambda r: float(r["step"]),
    )
    # the protocol's one-pass bpb (``bpb_<p>`` in runs written before the key said so), else
    # the task's own mask (``bpb`` in older runs)
    candidates = (f"bpb_{protocol}_one_pass", f"bpb_{protocol}", "val_bpb_masked", "bpb")
    metric = next(
        (k for k in candidates if any(_number(r.get(k)) is not None for r in val)), candidates[-1]
    )
    train_steps = np.array([float(r["step"]) for r in train])
    flops, elapsed, bpb, steps, estimated = [], [], [], [], False
    for row in val:
        value = _number(row.get(metric))
        step = float(row["step"])
        if value is None:
            continue
        at = int(np.searchsorted(train_steps, step, side="right"))  # train rows up to step
        last = train[at - 1] if at else None
        f = _number(row.get("train_flops"))
        if f is None and last is not None and float(last["step"]) == step:
            f = _number(last.get("train_flops"))
        if f is None and flops_per_step is not None:
            f, estimated = step * flops_per_step, True
        if f is None:
            continue
        t = _number(row.get("elapsed_s"))
        if t is None and last is not None:
            t = _number(last.get("elapsed_s"))
        flops.append(f)
        elapsed.append(np.nan if t is None else t)
        bpb.append(value)
        steps.append(step)
    order = np.argsort(np.asarray(flops, dtype=np.float64), kind="stable")

    def arr(values: list[float]) -> np.ndarray:
        return np.asarray(values, dtype=np.float64)[order]

    return Curve(
        name, kind, metric, arr(flops), arr(elapsed), arr(bpb),
        "estimated" if estimated else "logged", arr(steps),
    )  # fmt: skip


def curve_as_dict(curve: Curve) -> dict[str, Any]:
    return {
        "metric": curve.metric,
        "flops_source": curve.flops_source,
        "step": curve.steps.tolist(),
        "train_flops": curve.flops.tolist(),
        "elapsed_s": [None if np.isnan(t) else t for t in curve.elapsed_s.tolist()],
        "bpb": curve.bpb.tolist(),
    }


def curve_from_dict(name: str, kind: str | None, raw: dict[str, Any]) -> Curve:
    return Curve(
        name, kind, raw["metric"], np.asarray(raw["train_flops"], dtype=np.float64),
        np.asarray([np.nan if t is None else t for t in raw["elapsed_s"]], dtype=np.float64),
        np.asarray(raw["bpb"], dtype=np.float64), raw["flops_source"],
        np.asarray(raw["step"], dtype=np.float64),
    )  # fmt: skip


def common_budget(curves: list[Curve]) -> float | None:
    """The largest training-FLOP budget every run with a curve reached (min of their maxima)."""
    ends = [float(c.flops.max()) for c in curves if len(c)]
    return min(ends) if ends else None


def bpb_at_common_budget(curves: list[Curve]) -> tuple[float | None, dict[str, float | None]]:
    """(the common budget, each run's interpolated bpb there)."""
    budget = common_budget(curves)
    return budget, {c.name: (c.bpb_at(budget) if budget is not None else None) for c in curves}
