"""The grid's rows over seeds: for every run of the grid and every yardstick, the mean and the
spread (sample standard deviation, ddof 1) of the seeds that measured it."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from bitbench.ablation.grid import AblationGrid
from bitbench.ablation.scoring import Stage
from bitbench.evaluate import EvalSettings


@dataclass(frozen=True)
class Column:
    key: str  # the metric's key in a row's "metrics"
    title: str
    higher_is_better: bool
    digits: int = 3


def columns(grid: AblationGrid, stages: list[Stage]) -> list[Column]:
    """The table's yardsticks, in stage order."""
    out: list[Column] = []
    for stage in stages:
        if stage.kind == "bpb":
            protocols = EvalSettings(**grid.eval).protocols
            out += [Column(f"bpb_{p}", f"bpb {p}", False) for p in protocols]
        elif stage.kind == "qa":
            out += [Column(f"qa_{stage.name}_{mode}_f1", f"QA F1 {stage.name} {mode}", True, 1)
                    for mode in stage.settings["modes"]]  # fmt: skip
        elif stage.kind == "probe":
            out.append(Column(f"probe_{stage.name}_acc", f"{stage.name} acc", True))
        else:
            out.append(Column(f"segment_{stage.name}_word_f", f"{stage.name} word F", True))
    return out


def _stat(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"mean": None, "sd": None, "n": 0, "values": []}
    sd = statistics.stdev(values) if len(values) > 1 else None
    return {"mean": statistics.fmean(values), "sd": sd, "n": len(values), "values": values}


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok and math.isfinite(value) else None


def summarize(rows: list[dict[str, Any]], cols: list[Column]) -> list[dict[str, Any]]:
    """One entry per run of the grid (in grid order): its seeds, status and per-column stats."""
    order: list[str] = []
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["name"] not in by_name:
            order.append(row["name"])
        by_name.setdefault(row["name"], []).append(row)
    out = []
    for name in order:
        seeds = by_name[name]
        first = seeds[0]
        measured = [r for r in seeds if r["status"] == "ok"]
        values = {c.key: _stat([v for r in seeds
                                if (v := _number(r["metrics"].get(c.key))) is not None])
                  for c in cols}  # fmt: skip
        flops = [v for r in measured if (v := _number(r.get("train_flops"))) is not None]
        steps = [v for r in measured if (v := _number(r.get("steps"))) is not None]
        status = (
            first["status"]
            if len(seeds) == 1
            else ("ok" if len(measured) == len(seeds) else f"{len(measured)}/{len(seeds)} seeds ok")
        )
        out.append({
            "name": name, "ablations": first["ablations"], "changes": first["changes"],
            "note": first["note"], "seeds": [r["seed"] for r in seeds], "status": status,
            "train_flops": _stat(flops), "steps": _stat(steps), "values": values,
        })  # fmt: skip
    return out


def fmt_stat(stat: dict[str, Any], digits: int = 3) -> str:
    """``2.641 ± 0.048`` (mean ± sd over seeds), ``2.641`` for one seed, ``-`` for none."""
    if stat.get("mean") is None:
        return "-"
    text = f"{stat['mean']:.{digits}f}"
    return text if stat.get("sd") is None else f"{text} ± {stat['sd']:.{digits}f}"
