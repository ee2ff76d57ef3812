"""The rows every `bitlab bench` suite of bitswin and the packages above it reports, and the
best-of timing behind them.

A row names the ``case`` and ``metric``, the ``value`` in ``unit``, the ``reference`` measured in
the same process and ``ratio`` = value / reference, a ``target`` and whether it was ``met``.
Times are the fastest of several calls: on shared cores other processes only ever add time.
(bitcodec, beside bitswin in the layering, writes the same schema in its own benchmarks.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def bench_row(
    case: str,
    metric: str,
    value: float,
    unit: str,
    reference: float | None = None,
    target: str | None = None,
    met: bool | None = None,
) -> dict[str, Any]:
    """One benchmark row; ``ratio`` is value / reference (None without a reference)."""
    ratio = None if reference in (None, 0) else value / reference
    return {
        "case": case,
        "metric": metric,
        "value": value,
        "unit": unit,
        "reference": reference,
        "ratio": ratio,
        "target": target,
        "met": met,
    }


def best_seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fn``: each the minimum over ``repeats`` calls. CPU time is this
    process's (all its threads): it does not count the time other processes held the cores.
    No warm-up: call ``fn`` once first where the first call differs."""
    wall = cpu = float("inf")
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - start_wall)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu
