"""`bitlab ablate --grid FILE.toml --corpus STORE --out DIR`: the masking study and seed 5.4's
ablations at equal training FLOPs.

Each grid entry is trained once per seed (`seeds = [0, 1]`) in DIR/<name>/seed-<k> with the
grid's shared budget plus the entry's changes, then scored on every yardstick of the grid's
[score] section (bpb under every protocol, QA, the classification probe, unsupervised
segmentation; a yardstick whose data is absent is skipped, with why). At the end: one table
over seeds (DIR/ablation.md, DIR/ablation.json) and one plot (DIR/ablation.png). `--resume`
continues a grid: finished runs are skipped, cut runs resume, and the table is written again
from what is saved. `--jobs N` trains N runs at once (their wall-clock is then not comparable;
their FLOPs are). `--grid default` is the shipped study (bitbench/grids/masking.toml).
"""

from __future__ import annotations

import shlex
import threading
from pathlib import Path

import typer

from bitlab.commands import DEVICE
from bitlab.output import emit, stderr

POLL_S = 2.0  # how often the bar reads a training run's step from its metrics.jsonl


def _render_plan(grid, planned, stages):
    def render(console) -> None:
        from bitbench.ablation import changes_text
        from bitbench.ablation.scoring import missing_data
        from rich.table import Table

        table = Table(title=f"ablation plan: {grid.title}")
        for col in ("run", "seed", "ablation", "status", "changes"):
            table.add_column(col)
        for item in planned:
            table.add_row(item.name, str(item.seed), ", ".join(item.run.ablations), item.status,
                          changes_text(item.run))  # fmt: skip
        console.print(table)
        for item in planned:
            if item.reason:
                console.print(f"[yellow]{item.label}[/] ({item.status}): {item.reason}")
        for stage in stages:
            why = missing_data(stage)
            console.print(f"yardstick {stage.key}: {'skipped: ' + why if why else 'ok'}",
                          markup=False, highlight=False)  # fmt: skip
        budget = ", ".join(f"{k}={v}" for k, v in grid.base.items())
        console.print(f"shared budget (config {grid.config}): {budget or 'trainer defaults'}; "
                      f"seeds {list(grid.seeds)}")  # fmt: skip

    return render


def _render_result(summary, cols, written):
    def render(console) -> None:
        from bitbench.ablation.summary import fmt_stat
        from rich.table import Table

        table = Table(title="ablation (mean ± sd over seeds)")
        table.add_column("run")
        table.add_column("status")
        for col in cols:
            table.add_column(col.title, justify="right")
        for entry in summary:
            table.add_row(entry["name"], entry["status"],
                          *(fmt_stat(entry["values"][c.key], c.digits) for c in cols))  # fmt: skip
        console.print(table)
        console.print(f"wrote {', '.join(str(p) for p in written.values())}")

    return render


class _GridBar:
    """The grid's progress: one bar over its runs, the current stage in the description, and
    while a run trains, its step (read from its metrics.jsonl)."""

    def __init__(self, bar, planned) -> None:
        self.bar = bar
        self.dirs = {p.label: p.run_dir for p in planned}
        todo = [p for p in planned if p.status != "unavailable"]
        self.task = bar.add_task("ablation grid", total=len(todo))
        self.done = 0
        self.stage: dict[str, str] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, name="bitlab-ablate", daemon=True)
        self.thread.start()

    def __call__(self, label: str, stage: str) -> None:
        with self.lock:
            if stage == "done":
                self.stage.pop(label, None)
                self.done += 1
            else:
                self.stage[label] = stage
            self._show()

    def _show(self, steps: dict[str, int] | None = None) -> None:
        parts = []
        for label, stage in self.stage.items():
            step = (steps or {}).get(label)
            parts.append(f"{label}: {stage}" + (f" step {step}" if step is not None else ""))
        self.bar.update(self.task, completed=self.done,
                        description="ablation grid" + (f" | {'; '.join(parts)}" if parts else ""))  # fmt: skip

    def _poll(self) -> None:
        from bittrain.runs import read_metrics_log

        while not self.stop.wait(POLL_S):
            with self.lock:
                training = [label for label, stage in self.stage.items() if stage == "train"]
            steps = {}
            for label in training:
                records = read_metrics_log(Path(self.dirs[label]) / "metrics.jsonl")
                train = [r["step"] for r in records if r.get("kind") == "train" and "step" in r]
                if train:
                    steps[label] = int(train[-1])
            with self.lock:
                self._show(steps)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=POLL_S + 1)


def _command(grid_path, corpus, out, data_root, budget, only) -> str:
    """The command that makes this table (``--resume`` and ``--jobs`` change nothing in it)."""
    parts = ["bitlab", "ablate", "--grid", grid_path, "--corpus", corpus, "--out", out]
    if data_root is not None:
        parts += ["--data-root", data_root]
    for flag, value in budget.items():
        if value is not None:
            parts += [f"--{flag.replace('_', '-')}-per-run", f"{value:g}"]
    for name in only:
        parts += ["--only", name]
    return shlex.join(parts)


def register(app: typer.Typer) -> None:
    @app.command("ablate")
    def ablate(
        grid_path: str = typer.Option(
            "default",
            "--grid",
            "-g",
            help="Grid TOML file, or a shipped grid: 'default' (the masking study and seed 5.4).",
        ),
        corpus: str = typer.Option(..., "--corpus", help="Corpus store (bitlab prepare-corpus)."),
        out: str = typer.Option(..., "--out", "-o", help="Directory of the runs and the report."),
        resume: bool = typer.Option(
            False,
            "--resume",
            help="Continue the grid in --out: skip finished runs, resume cut ones.",
        ),
        jobs: int = typer.Option(
            1,
            "--jobs",
            "-j",
            help="Train N runs at once (shares the cores: wall-clock is then not comparable).",
        ),
        data_root: str = typer.Option(
            None, "--data-root", help="Directory of the [score] data (overrides the grid's)."
        ),
        max_minutes: float = typer.Option(
            None, "--max-minutes-per-run", help="Cap each run's training time (same for all)."
        ),
        max_steps: int = typer.Option(
            None, "--max-steps-per-run", help="Override the grid's max_steps (same for all)."
        ),
        max_flops: float = typer.Option(
            None, "--max-flops-per-run", help="Override the grid's max_flops (same for all)."
        ),
        only: list[str] = typer.Option([], "--only", help="Run only these runs or ablations."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Print the plan and check it; train nothing."
        ),
        gpus: int = typer.Option(0, "--gpus", help="Local CUDA workers per run (NCCL)."),
        nproc: int = typer.Option(0, "--nproc", help="Local CPU workers per run (gloo)."),
        device: str = DEVICE,
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Train the grid's equal-FLOP runs (every seed), score each on every yardstick; write
        one table over seeds and one plot."""
        import dataclasses

        from bitbench.ablation import (
            columns,
            load_grid,
            plan_ablation,
            plan_stages,
            prepare_tables,
            run_ablation,
            summarize,
            write_report,
        )
        from bittrain.runs import check_device, resolve_device
        from bittrain.trainer.launcher import LaunchOptions

        from bitlab.errors import UserError
        from bitlab.progress import progress_bar

        if jobs < 1:
            raise UserError(f"--jobs {jobs}: give at least 1 (runs trained at once)")
        check_device(device)
        device = resolve_device(device)  # the scoring's device (training follows the config)
        grid = load_grid(grid_path)
        budget = {"max_minutes": max_minutes, "max_steps": max_steps, "max_flops": max_flops}
        grid = dataclasses.replace(
            grid, base={**grid.base, **{k: v for k, v in budget.items() if v is not None}}
        )
        only_items = [name for item in only for name in item.split(",") if name]
        stages = plan_stages(grid, corpus, data_root)
        planned = plan_ablation(grid, out, corpus, stages=stages, only=only_items or None,
                                resume=resume or dry_run)  # fmt: skip
        if dry_run:
            from bitbench.ablation.scoring import missing_data

            plan = [{"name": p.name, "seed": p.seed, "ablations": list(p.run.ablations),
                     "status": p.status, "reason": p.reason, "overrides": p.overrides,
                     "run_dir": str(p.run_dir)} for p in planned]  # fmt: skip
            yardsticks = [{"stage": s.key, "skipped": missing_data(s)} for s in stages]
            emit({"grid": grid.source, "base": grid.base, "seeds": list(grid.seeds),
                  "runs": plan, "yardsticks": yardsticks}, as_json,
                 _render_plan(grid, planned, stages))  # fmt: skip
            return
        if jobs > 1:
            stderr.print(f"--jobs {jobs}: {jobs} runs train at once on shared cores; their "
                         "wall-clock times are not comparable (their FLOPs are)")  # fmt: skip
        for path in prepare_tables(grid, planned, corpus, out):
            if not as_json:
                stderr.print(f"encoding table ready: {path}")
        launch = LaunchOptions(gpus=gpus, nproc=nproc)
        with progress_bar() as bar:
            watch = _GridBar(bar, planned)
            try:
                rows = run_ablation(grid, planned, corpus, stages, jobs=jobs, launch=launch,
                                    device=device, progress=watch)  # fmt: skip
            finally:
                watch.close()
        cols = columns(grid, stages)
        summary = summarize(rows, cols)
        command = _command(grid_path, corpus, out, data_root, budget, only_items)
        written = write_report(grid, rows, summary, cols, Path(out), command, stages)
        emit({"grid": grid.source, "seeds": list(grid.seeds), "variants": summary, "runs": rows,
              "written": {k: str(v) for k, v in written.items()}}, as_json,
             _render_result(summary, cols, written))  # fmt: skip
