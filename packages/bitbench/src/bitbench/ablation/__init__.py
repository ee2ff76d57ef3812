"""Ablations (seed section 5.4 and the masking study): a TOML grid of equal-FLOP trainer runs,
each trained once per seed and scored on every yardstick (bpb under every protocol, QA, the
classification probe, unsupervised segmentation), then one table over seeds and one plot. Runs
train through ``bittrain.run_training``; see grid.py and score_config.py for the file format and
``default_grid_path()`` for the shipped grid."""

from bitbench.ablation.grid import (
    AblationGrid,
    AblationRun,
    default_grid_path,
    load_grid,
    parse_grid,
    shipped_grid_path,
)
from bitbench.ablation.plan import PlannedRun, changes_text, plan_ablation
from bitbench.ablation.report import render_markdown, write_report
from bitbench.ablation.runner import prepare_tables, run_ablation, run_job
from bitbench.ablation.scoring import plan_stages, score_run
from bitbench.ablation.summary import columns, summarize

__all__ = [
    "AblationGrid",
    "AblationRun",
    "PlannedRun",
    "changes_text",
    "columns",
    "default_grid_path",
    "load_grid",
    "parse_grid",
    "plan_ablation",
    "plan_stages",
    "prepare_tables",
    "render_markdown",
    "run_ablation",
    "run_job",
    "score_run",
    "shipped_grid_path",
    "summarize",
    "write_report",
]
