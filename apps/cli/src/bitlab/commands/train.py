"""`bitlab train`: curriculum training on one process, N local workers, or many nodes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from bitlab.output import emit

# Config keys that have a flag of their own: library messages naming the key name the flag.
FLAGS = {
    "table_codes": "--table",
    "table_mode": "--table-mode",
    "max_steps": "--max-steps",
    "max_minutes": "--max-minutes",
    "max_flops": "--max-flops",
    "corpus": "--corpus",
    "out": "--out",
}


def _render(result: dict[str, Any]):
    def render(console) -> None:
        val = result.get("val") or {}
        status = {
            "ok": "finished",
            "time": "stopped at --max-minutes",
            "flops": "stopped at --max-flops",
        }.get(result["status"], result["status"])
        line = f"[bold]{status}[/] at step {result['step']} in {result['elapsed_s']:.0f} s"
        if "bpb" in val:
            line += f"; validation bpb {val['bpb']:.4f}"
        if result.get("train_flops"):
            line += f"; {result['train_flops']:.3g} training FLOPs"
        console.print(line)
        accs = "  ".join(f"{k} {v:.3f}" for k, v in val.items() if k.startswith("acc_"))
        if accs:
            console.print(f"validation {accs}")
        console.print(f"run directory: {result['run_dir']} (model/, metrics.jsonl, plots/)")

    return render


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        config: str = typer.Option(
            None,
            "--config",
            "-c",
            help="Shipped config name (tiny, base, large) or a TOML file. Default: tiny "
            "(with --resume: the run's own config.toml).",
        ),
        overrides: list[str] = typer.Option(
            [],
            "--set",
            "-s",
            help="Override a config key: --set lr=1e-3, --set model.depths=[1,1].",
        ),
        corpus: str = typer.Option(None, "--corpus", help="Corpus store (bitlab prepare-corpus)."),
        out: str = typer.Option(None, "--out", "-o", help="Run directory."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out exactly."),
        init: str = typer.Option(
            None, "--init", help="Start from another run's model (fine-tuning)."
        ),
        table: str = typer.Option(
            None, "--table", help="Encoding table whose codes feed the model (config table_codes)."
        ),
        table_mode: str = typer.Option(
            None, "--table-mode", help="fixed: use --table as it is; adaptive: keep growing it."
        ),
        max_steps: int = typer.Option(
            None, "--max-steps", help="Optimizer steps (config max_steps)."
        ),
        max_minutes: float = typer.Option(
            None, "--max-minutes", help="Stop after this many minutes."
        ),
        max_flops: float = typer.Option(
            None,
            "--max-flops",
            help="Training FLOP budget (every forward counted): the run stops there and its "
            "schedule and curriculum span the steps it buys (config max_flops).",
        ),
        gpus: int = typer.Option(0, "--gpus", help="Local CUDA workers (NCCL)."),
        nproc: int = typer.Option(0, "--nproc", help="Local CPU workers (gloo)."),
        nnodes: int = typer.Option(1, "--nnodes", help="Machines taking part."),
        node_rank: int = typer.Option(0, "--node-rank", help="This machine's index (0 hosts)."),
        rdzv_endpoint: str = typer.Option(None, "--rdzv-endpoint", help="HOST:PORT of node 0."),
        rdzv_id: str = typer.Option(None, "--rdzv-id", help="Job id, the same on every node."),
        max_restarts: int = typer.Option(0, "--max-restarts", help="Elastic restarts on failure."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No live progress line."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Train a model with the masking curriculum; checkpoints resume exactly."""
        from bitlab.errors import UserError, in_flag_terms
        from bitlab.training import load_config, run_training
        from bitlab.training.launcher import LaunchOptions

        fields: dict[str, Any] = {
            "corpus": corpus,
            "out": out,
            "max_steps": max_steps,
            "max_minutes": max_minutes,
            "max_flops": max_flops,
            "table_codes": table,
            "table_mode": table_mode,
        }
        if resume:
            if not out:
                raise UserError("--resume needs --out RUN (the run directory to continue)")
            if config is not None:
                raise UserError(
                    "--resume continues with the run's own config.toml: drop --config "
                    "(use --set to change a key)"
                )
            saved = Path(out) / "config.toml"
            if not saved.is_file():
                raise UserError(f"--resume: '{saved}' does not exist: is '{out}' a run directory?")
            source: str | Path = saved
        else:
            source = config or "tiny"
        cfg = load_config(source, overrides, **fields)
        launch = LaunchOptions(
            gpus=gpus,
            nproc=nproc,
            nnodes=nnodes,
            node_rank=node_rank,
            rdzv_endpoint=rdzv_endpoint,
            rdzv_id=rdzv_id,
            max_restarts=max_restarts,
        )
        try:
            result = run_training(
                cfg, resume=resume, init=init, launch=launch, progress=not no_progress
            )
        except Exception as exc:
            translated = in_flag_terms(exc, FLAGS)
            if translated is exc:
                raise
            raise translated from None
        if os.environ.get("RANK", "0") == "0":
            emit(result.to_dict(), as_json, _render(result.to_dict()))
