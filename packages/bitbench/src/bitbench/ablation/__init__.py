"""Ablations (seed section 5.4): a TOML grid of equal-budget trainer runs, each evaluated, then
one comparison table and plots (runs train through ``bittrain.run_training``); see grid.py for the
file format and ``default_grid_path()`` for the shipped grid of the four ablations."""

from bitbench.ablation.grid import (
    AblationGrid,
    AblationRun,
    default_grid_path,
    load_grid,
    parse_grid,
)
from bitbench.ablation.plan import PlannedRun, changes_text, plan_ablation
from bitbench.ablation.report import render_markdown, write_report
from bitbench.ablation.runner import evaluate_planned, prepare_tables, run_ablation

__all__ = [
    "AblationGrid",
    "AblationRun",
    "PlannedRun",
    "changes_text",
    "default_grid_path",
    "evaluate_planned",
    "load_grid",
    "parse_grid",
    "plan_ablation",
    "prepare_tables",
    "render_markdown",
    "run_ablation",
    "write_report",
]
