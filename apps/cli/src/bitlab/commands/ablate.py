"""`bitlab ablate --grid FILE.toml --corpus STORE --out DIR`: seed section 5.4's ablations.

Each grid entry is one `bitlab train` run in DIR/<name> with the grid's shared budget plus the
entry's changes, then `bitlab eval` on it; at the end one comparison table (DIR/ablation.md,
DIR/ablation.json) and plots. `--grid default` is the shipped grid of the four ablations
(bitbench/grids/ablations.toml). Finished runs are reused, interrupted ones resume.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from bitlab.output import emit, stderr


def _render_plan(grid, planned):
    def render(console) -> None:
        from bitbench.ablation import changes_text
        from rich.table import Table

        table = Table(title=f"ablation plan: {grid.title}")
        for col in ("run", "ablation", "status", "changes"):
            table.add_column(col)
        for item in planned:
            table.add_row(item.name, ", ".join(item.run.ablations), item.status,
                          changes_text(item.run))  # fmt: skip
        console.print(table)
        for item in planned:
            if item.reason:
                console.print(f"[yellow]{item.name}[/] ({item.status}): {item.reason}")
        if planned:
            console.print(f"runs go to {planned[0].run_dir.parent}/<run>")
        budget = ", ".join(f"{k}={v}" for k, v in grid.base.items())
        console.print(f"shared budget (config {grid.config}): {budget or 'trainer defaults'}")

    return render


def _render_rows(grid, rows, written):
    def render(console) -> None:
        from rich.table import Table

        table = Table(title=f"ablations: {grid.title}")
        for col in ("ablation", "run", "status", "steps", "bpb", "acc_bit", "acc_byte",
                    "acc_word", "boundary_f1"):  # fmt: skip
            table.add_column(
                col, justify="right" if col not in ("ablation", "run", "status") else "left"
            )
        for group in grid.groups():
            for row in rows:
                if group in row["ablations"]:
                    cells = [row.get(k) for k in ("steps", "bpb", "acc_bit", "acc_byte", "acc_word",
                                                  "boundary_f1")]  # fmt: skip
                    table.add_row(group, row["name"], row["status"],
                                  *("-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)
                                    for v in cells))  # fmt: skip
        console.print(table)
        for row in rows:
            if row.get("reason"):
                console.print(f"[yellow]{row['name']}[/] ({row['status']}): {row['reason']}")
        console.print(f"wrote {', '.join(str(p) for p in written.values())}")

    return render


def register(app: typer.Typer) -> None:
    @app.command("ablate")
    def ablate(
        grid_path: str = typer.Option(
            "default",
            "--grid",
            "-g",
            help="Grid TOML file, or 'default' for seed 5.4's four ablations.",
        ),
        corpus: str = typer.Option(..., "--corpus", help="Corpus store (bitlab prepare-corpus)."),
        out: str = typer.Option(..., "--out", "-o", help="Directory of the runs and the report."),
        max_minutes: float = typer.Option(
            None, "--max-minutes-per-run", help="Cap each run's training time (same for all)."
        ),
        max_steps: int = typer.Option(
            None, "--max-steps-per-run", help="Override the grid's max_steps (same for all)."
        ),
        only: list[str] = typer.Option([], "--only", help="Run only these runs or ablations."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Print the plan and check it; train nothing."
        ),
        gpus: int = typer.Option(0, "--gpus", help="Local CUDA workers per run (NCCL)."),
        nproc: int = typer.Option(0, "--nproc", help="Local CPU workers per run (gloo)."),
        device: str = typer.Option("cpu", "--eval-device", help="Device of the evaluations."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Train and evaluate the grid's equal-budget runs; write one comparison table and plots."""
        import dataclasses

        from bitbench.ablation import (
            load_grid,
            plan_ablation,
            prepare_tables,
            run_ablation,
            write_report,
        )
        from bittrain.trainer.launcher import LaunchOptions

        grid = load_grid(grid_path)
        budget = {"max_minutes": max_minutes, "max_steps": max_steps}
        grid = dataclasses.replace(
            grid, base={**grid.base, **{k: v for k, v in budget.items() if v is not None}}
        )
        only_items = [name for item in only for name in item.split(",") if name]
        planned = plan_ablation(grid, out, corpus, only=only_items or None)
        if dry_run:
            plan = [{"name": p.name, "ablations": list(p.run.ablations), "status": p.status,
                     "reason": p.reason, "overrides": p.overrides, "run_dir": str(p.run_dir)}
                    for p in planned]  # fmt: skip
            emit({"grid": grid.source, "base": grid.base, "runs": plan}, as_json,
                 _render_plan(grid, planned))  # fmt: skip
            return
        launch = LaunchOptions(gpus=gpus, nproc=nproc)
        todo = [p for p in planned if p.status != "unavailable"]
        for path in prepare_tables(grid, planned, corpus, out):
            if not as_json:
                stderr.print(f"encoding table ready: {path}")

        def progress(name: str, stage: str) -> None:
            index = next(i for i, p in enumerate(todo, start=1) if p.name == name)
            if not as_json:
                stderr.print(f"[bold][{index}/{len(todo)}][/] {stage} {name}")

        rows = run_ablation(grid, planned, corpus, launch=launch, eval_device=device,
                            progress=progress, show_training=not as_json)  # fmt: skip
        parts = ["bitlab", "ablate", "--grid", grid_path, "--corpus", corpus, "--out", out]
        if max_minutes is not None:
            parts += ["--max-minutes-per-run", f"{max_minutes:g}"]
        if max_steps is not None:
            parts += ["--max-steps-per-run", str(max_steps)]
        for name in only_items:
            parts += ["--only", name]
        written = write_report(grid, rows, Path(out), shlex.join(parts))
        emit({"grid": grid.source, "runs": rows, "written": {k: str(v) for k, v in written.items()}},
             as_json, _render_rows(grid, rows, written))  # fmt: skip
