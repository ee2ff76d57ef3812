"""What `bitlab train` and `bitlab baseline train` share: their run, budget and launch options,
how a run's config is resolved (fresh, or the run's own with --resume), the launch, the
translation of library errors into flags, and the summary printed at the end."""

from __future__ import annotations

import os
from collections.abc import Callable
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
STATUS = {"ok": "finished", "time": "stopped at --max-minutes", "flops": "stopped at --max-flops"}

# Options shared by both commands (typer reads these defaults; the objects are not mutated).
OVERRIDES = typer.Option(
    [], "--set", "-s", help="Override a config key: --set lr=1e-3, --set model.depths=[1,1]."
)
CORPUS = typer.Option(None, "--corpus", help="Corpus store (bitlab prepare-corpus).")
OUT = typer.Option(None, "--out", "-o", help="Run directory.")
RESUME = typer.Option(
    False,
    "--resume",
    help="Continue the run in --out exactly (your own command line plus --resume works).",
)
ALLOW_CONFIG_CHANGE = typer.Option(
    False,
    "--allow-config-change",
    help="With --resume: continue with --config/--set values that differ from the run's "
    "config.toml.",
)
MAX_STEPS = typer.Option(None, "--max-steps", help="Optimizer steps (config max_steps).")
MAX_MINUTES = typer.Option(None, "--max-minutes", help="Stop after this many minutes.")
MAX_FLOPS = typer.Option(
    None,
    "--max-flops",
    help="Training FLOP budget (every forward counted): the run stops there and its schedule "
    "and curriculum span the steps it buys (config max_flops).",
)
GPUS = typer.Option(0, "--gpus", help="Local CUDA workers (NCCL).")
NPROC = typer.Option(0, "--nproc", help="Local CPU workers (gloo).")
NNODES = typer.Option(1, "--nnodes", help="Machines taking part.")
NODE_RANK = typer.Option(0, "--node-rank", help="This machine's index (0 hosts).")
RDZV_ENDPOINT = typer.Option(None, "--rdzv-endpoint", help="HOST:PORT of node 0.")
RDZV_ID = typer.Option(None, "--rdzv-id", help="Job id, the same on every node.")
MAX_RESTARTS = typer.Option(0, "--max-restarts", help="Elastic restarts on failure.")
NO_PROGRESS = typer.Option(False, "--no-progress", help="No live progress line.")
AS_JSON = typer.Option(False, "--json", help="Print the result as JSON.")


def resolve_config(
    build: Callable[[str], Any],
    *,
    resume: bool,
    out: str | None,
    config: str | None,
    budget: dict[str, Any],
    allow_config_change: bool,
) -> Any:
    """The run's TrainConfig: ``build(source)`` of the shipped/TOML config (default tiny), or
    with --resume of the run's own config.toml (a --config/--set that changes it is refused
    with the keys that differ, unless --allow-config-change)."""
    from bitlab.errors import UserError
    from bitlab.training.resume_config import resume_config

    if resume:
        if not out:
            raise UserError("--resume needs --out RUN (the run directory to continue)")
        return resume_config(
            out, build, config=config, budget=budget, allow_changes=allow_config_change
        )
    if allow_config_change:
        raise UserError("--allow-config-change goes with --resume: add --resume or drop it")
    return build(config or "tiny")


def launch_and_train(cfg: Any, *, resume: bool, init: str | None, progress: bool,
                     **launch: Any) -> Any:  # fmt: skip
    """Run the training (LaunchOptions fields as keywords); library errors that name a config
    key with a flag of its own come back naming the flag."""
    from bitlab.errors import in_flag_terms
    from bitlab.training import run_training
    from bitlab.training.launcher import LaunchOptions

    try:
        return run_training(
            cfg, resume=resume, init=init, launch=LaunchOptions(**launch), progress=progress
        )
    except Exception as exc:
        translated = in_flag_terms(exc, FLAGS)
        if translated is exc:
            raise
        raise translated from None


def render_result(title: str, result: dict[str, Any]) -> Callable[[Any], None]:
    def render(console) -> None:
        val = result.get("val") or {}
        status = STATUS.get(result["status"], result["status"])
        line = f"[bold]{title}{status}[/] at step {result['step']} in {result['elapsed_s']:.0f} s"
        for key in ("bpb_words", "bpb_bytes", "bpb"):
            if isinstance(val.get(key), (int, float)):
                line += f"; validation {key} {val[key]:.4f}"
                break
        if result.get("train_flops"):
            line += f"; {result['train_flops']:.3g} training FLOPs"
        console.print(line)
        accs = "  ".join(f"{k} {v:.3f}" for k, v in val.items() if k.startswith("acc_"))
        if accs:
            console.print(f"validation {accs}")
        if result.get("flops_per_byte"):
            console.print(
                f"forward FLOPs per byte at seq_len {result['seq_len']}: "
                f"{result['flops_per_byte']:.3g}"
            )
        console.print(f"run directory: {result['run_dir']} (model/, metrics.jsonl, plots/)")

    return render


def emit_on_rank_zero(result: dict[str, Any], as_json: bool, title: str = "") -> None:
    if os.environ.get("RANK", "0") == "0":
        emit(result, as_json, render_result(title, result))
