"""The plan of an ablation: one trainer run per grid entry and seed, in OUT/<name>/seed-<k>, with
the grid's shared [base] budget plus the entry's own changes and the seed.

Statuses: ``planned`` (to train), ``trained`` (model there, some yardstick still to measure),
``finished`` (trained and scored with the current settings: skipped by ``--resume``),
``unavailable`` (the trainer lacks a setting the entry requires; the reason is kept). Without
``--resume`` an OUT that already holds runs of the grid is refused, so nothing is mixed by
accident; with it, a run trained with other settings than the grid's is refused too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bittrain.trainer.resume_config import config_changes, read_saved_config

from bitbench.ablation.grid import AblationGrid, AblationRun
from bitbench.ablation.scoring import Stage, is_scored
from bitbench.ablation.tables import resolve_references
from bitbench.ablation.training import build_config, has_setting
from bitbench.errors import BitbenchError

PLANNED, TRAINED, FINISHED, UNAVAILABLE = "planned", "trained", "finished", "unavailable"


@dataclass(frozen=True)
class PlannedRun:
    run: AblationRun
    seed: int
    run_dir: Path
    overrides: dict[str, Any]  # [base], the run's own changes, then seed (flat dotted keys)
    status: str  # planned | trained | finished | unavailable
    reason: str = ""

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def label(self) -> str:
        return f"{self.run.name} seed {self.seed}"


def changes_text(run: AblationRun) -> str:
    """``key=value, ...`` of what the run changes (``reference`` when nothing)."""
    if not run.overrides:
        return "reference (no change)"
    return ", ".join(
        f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in run.overrides.items()
    )


def run_dir_of(out: Path, name: str, seed: int) -> Path:
    return out / name / f"seed-{seed}"


def _selected(grid: AblationGrid, only: list[str] | None) -> list[AblationRun]:
    runs = list(grid.runs)
    if not only:
        return runs
    wanted = set(only)
    known = {r.name for r in runs} | set(grid.groups())
    unknown = sorted(wanted - known)
    if unknown:
        raise BitbenchError(
            f"--only {unknown} matches no run or ablation of the grid: use run names "
            f"{[r.name for r in runs]} or ablations {grid.groups()}"
        )
    return [r for r in runs if r.name in wanted or wanted & set(r.ablations)]


def _check_same_settings(label: str, run_dir: Path, cfg: Any) -> None:
    """A run already in OUT must have been trained with what the grid says now."""
    if not (run_dir / "config.toml").is_file():
        return
    changes = config_changes(read_saved_config(run_dir), cfg)
    if changes:
        listed = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changes.items())
        raise BitbenchError(
            f"grid run '{label}' in {run_dir} was trained with other settings ({listed}): "
            "give the grid another --out, or delete that run to train it again"
        )


def plan_ablation(
    grid: AblationGrid,
    out_dir: str | Path,
    corpus: str | Path,
    *,
    stages: list[Stage],
    only: list[str] | None = None,
    resume: bool = False,
) -> list[PlannedRun]:
    """Plan every (run, seed) of the grid (or those named / grouped in ``only``). A config the
    trainer would reject is an error now, before anything trains (see the module doc)."""
    out = Path(out_dir)
    planned: list[PlannedRun] = []
    for run in _selected(grid, only):
        missing = [key for key in run.requires if not has_setting(key)]
        for seed in grid.seeds:
            run_dir = run_dir_of(out, run.name, seed)
            base = {**grid.base, **run.overrides, "seed": seed}
            overrides = resolve_references(base, grid.tables, out, run.name)
            if missing:
                reason = f"the trainer has no {', '.join(repr(k) for k in missing)} setting"
                reason += f" ({run.note})" if run.note else ""
                planned.append(PlannedRun(run, seed, run_dir, overrides, UNAVAILABLE, reason))
                continue
            try:
                cfg = build_config(grid, overrides, run_dir, corpus)
            except ValueError as exc:  # the packages' user errors are ValueErrors
                raise BitbenchError(f"grid run '{run.name}': {exc}") from None
            if run_dir.exists() and any(run_dir.iterdir()) and not resume:
                raise BitbenchError(
                    f"{run_dir} already holds a run of this grid: pass --resume to continue the "
                    "grid (finished runs are kept), or give another --out"
                )
            _check_same_settings(f"{run.name} seed {seed}", run_dir, cfg)
            status = PLANNED
            if (run_dir / "model" / "config.json").is_file():
                status = FINISHED if is_scored(run_dir, stages) else TRAINED
            planned.append(PlannedRun(run, seed, run_dir, overrides, status))
    return planned
