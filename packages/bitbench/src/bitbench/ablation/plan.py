"""The plan of an ablation: one trainer run per grid entry, each in OUT/<name>, with the grid's
shared [base] budget plus the entry's own changes. Runs whose required trainer settings do not
exist are marked unavailable (with the reason); a run already finished in OUT/<name> is reused."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bitbench.ablation.grid import AblationGrid, AblationRun
from bitbench.ablation.tables import resolve_references
from bitbench.ablation.training import build_config, has_setting
from bitbench.errors import BitbenchError

PLANNED, REUSED, UNAVAILABLE = "planned", "reused", "unavailable"


@dataclass(frozen=True)
class PlannedRun:
    run: AblationRun
    run_dir: Path
    overrides: dict[str, Any]  # [base] then the run's own changes (flat dotted keys)
    status: str  # planned | reused | unavailable
    reason: str = ""

    @property
    def name(self) -> str:
        return self.run.name


def changes_text(run: AblationRun) -> str:
    """``key=value, ...`` of what the run changes (``reference`` when nothing)."""
    if not run.overrides:
        return "reference (no change)"
    return ", ".join(
        f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in run.overrides.items()
    )


def plan_ablation(
    grid: AblationGrid,
    out_dir: str | Path,
    corpus: str | Path,
    *,
    only: list[str] | None = None,
) -> list[PlannedRun]:
    """Plan every run (or those named / grouped in ``only``): a config the trainer would reject
    (unknown key, bad value) is an error now, a run whose ``requires`` keys the trainer lacks is
    unavailable. Everything is checked before anything trains."""
    out = Path(out_dir)
    runs = list(grid.runs)
    if only:
        wanted = set(only)
        known = {r.name for r in runs} | set(grid.groups())
        unknown = sorted(wanted - known)
        if unknown:
            raise BitbenchError(
                f"--only {unknown} matches no run or ablation of the grid: use run names "
                f"{[r.name for r in runs]} or ablations {grid.groups()}"
            )
        runs = [r for r in runs if r.name in wanted or wanted & set(r.ablations)]
    planned: list[PlannedRun] = []
    for run in runs:
        run_dir = out / run.name
        overrides = resolve_references({**grid.base, **run.overrides}, grid.tables, out, run.name)
        missing = [key for key in run.requires if not has_setting(key)]
        if missing:
            reason = f"the trainer has no {', '.join(repr(k) for k in missing)} setting"
            if run.note:
                reason += f" ({run.note})"
            planned.append(PlannedRun(run, run_dir, overrides, UNAVAILABLE, reason))
            continue
        try:
            build_config(grid, overrides, run_dir, corpus)
        except ValueError as exc:  # the packages' user errors are ValueErrors
            raise BitbenchError(f"grid run '{run.name}': {exc}") from None
        done = (run_dir / "model" / "config.json").is_file()
        planned.append(PlannedRun(run, run_dir, overrides, REUSED if done else PLANNED))
    return planned
