"""What `bitlab train` and `bitlab baseline train` share: their run, budget and launch options,
the call into bittrain (``TrainRequest``: config resolution, resume, launch), the translation of
library errors into flags, and the summary printed at the end."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

from bitlab.commands import with_option_group
from bitlab.errors import in_flag_terms
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
OVERWRITE = typer.Option(
    False,
    "--overwrite",
    help="Replace the run already in --out (its model, checkpoints, logs and eval/; other files "
    "there stay). Without it a folder holding a run is refused.",
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
    "and curriculum span the steps it buys, at most max_steps: raise --max-steps (and "
    "--max-minutes) so that the budget is what ends the run (config max_flops).",
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


@dataclass(frozen=True)
class RunOptions:
    """The options both training commands take, gathered by ``with_run_options``."""

    corpus: str | None
    out: str | None
    overrides: list[str]
    resume: bool
    overwrite: bool
    allow_config_change: bool
    max_steps: int | None
    max_minutes: float | None
    max_flops: float | None
    gpus: int
    nproc: int
    nnodes: int
    node_rank: int
    rdzv_endpoint: str | None
    rdzv_id: str | None
    max_restarts: int
    no_progress: bool
    as_json: bool

    @property
    def budget(self) -> dict[str, Any]:
        return {"max_steps": self.max_steps, "max_minutes": self.max_minutes,
                "max_flops": self.max_flops}  # fmt: skip

    @property
    def launch(self) -> dict[str, Any]:
        return {"gpus": self.gpus, "nproc": self.nproc, "nnodes": self.nnodes,
                "node_rank": self.node_rank, "rdzv_endpoint": self.rdzv_endpoint,
                "rdzv_id": self.rdzv_id, "max_restarts": self.max_restarts}  # fmt: skip


# typer's option of each RunOptions field (the objects are read, never mutated)
with_run_options = with_option_group(
    "run",
    RunOptions,
    {"corpus": CORPUS, "out": OUT, "overrides": OVERRIDES, "resume": RESUME,
     "overwrite": OVERWRITE, "allow_config_change": ALLOW_CONFIG_CHANGE, "max_steps": MAX_STEPS,
     "max_minutes": MAX_MINUTES, "max_flops": MAX_FLOPS, "gpus": GPUS, "nproc": NPROC,
     "nnodes": NNODES, "node_rank": NODE_RANK, "rdzv_endpoint": RDZV_ENDPOINT,
     "rdzv_id": RDZV_ID, "max_restarts": MAX_RESTARTS, "no_progress": NO_PROGRESS,
     "as_json": AS_JSON},
)  # fmt: skip


def launch_and_train(
    run: RunOptions,
    config: str | None,
    *,
    init: str | None = None,
    task: str | None = None,
    fields: dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    """Resolve the run's config (fresh, or with --resume the run's own) and train it through
    bittrain; returns (config, result). Library errors that name a config key with a flag of its
    own come back naming the flag."""
    from bittrain.trainer.launcher import LaunchOptions
    from bittrain.trainer.request import TrainRequest, train_request

    request = TrainRequest(
        config=config, overrides=tuple(run.overrides), corpus=run.corpus, out=run.out,
        resume=run.resume, overwrite=run.overwrite, allow_config_change=run.allow_config_change,
        init=init, task=task,
        fields={k: v for k, v in (fields or {}).items() if v is not None}, **run.budget,
    )  # fmt: skip
    try:
        return train_request(request, LaunchOptions(**run.launch), progress=not run.no_progress)
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
        for key in ("bpb_words_one_pass", "bpb_bytes_one_pass", "val_bpb_masked"):
            if isinstance(val.get(key), (int, float)):
                line += f"; validation {key} {val[key]:.4f}"
                break
        if result.get("train_flops"):
            line += f"; {result['train_flops']:.3g} training FLOPs"
        console.print(line)
        accs = "  ".join(f"{k} {v:.3f}" for k, v in val.items() if k.startswith("val_acc_"))
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
