"""`bitlab baseline train`: the token-level baselines (bitbench.baselines) through the same trainer.

A thin wrapper over `bitlab train` with ``model = byte | bpe``: the same loop, distribution,
checkpoints, budget and run directory, so baselines and bitswin runs sit in one `bitlab compare`
table at matched budgets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from bitlab.output import emit

KINDS = ("byte", "bpe", "hf-bert")


def _render(result: dict[str, Any]):
    def render(console) -> None:
        val = result.get("val") or {}
        status = {
            "ok": "finished",
            "time": "stopped at --max-minutes",
            "flops": "stopped at --max-flops",
        }.get(result["status"], result["status"])
        line = (
            f"[bold]{result['kind']} baseline {status}[/] at step {result['step']} "
            f"in {result['elapsed_s']:.0f} s"
        )
        if "bpb" in val:
            line += f"; validation bpb {val['bpb']:.4f}"
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


def baseline_config(kind: str, source: str, overrides: list[str], **fields: Any):
    """The TrainConfig of a baseline run: ``source`` (shipped name or TOML) with task=kind."""
    from bitlab.errors import UserError
    from bitlab.training import load_config
    from bitlab.training.config import LEGACY_KEYS, parse_override

    if kind not in KINDS:
        raise UserError(
            f"--kind '{kind}' is not a baseline: use --kind byte, --kind bpe or --kind hf-bert"
        )
    for text in overrides:
        key, value = parse_override(text)
        if LEGACY_KEYS.get(key, key) == "task" and value != kind:
            raise UserError(
                f"--set {key}={value} contradicts --kind {kind}: drop the --set (use "
                "`bitlab train` for bitswin runs)"
            )
    from bitlab.training.config import apply_overrides

    cfg = load_config(source, [*overrides, f"task={kind}"], **fields)
    if load_config(source).task != kind:
        # The file's [model] table was written for another model (the shipped configs describe
        # bitswin): keep only the model.* keys given here.
        own = apply_overrides({}, [t for t in overrides if t.strip().startswith("model.")])
        cfg = cfg.replace(model_config=own.get("model_config", {}))
    return cfg


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="Token-level baselines (byte-level and BPE masked LMs) trained like bitswin runs.",
        context_settings={"help_option_names": ["-h", "--help"]},
        no_args_is_help=True,
    )

    @sub.command("train")
    def train(
        kind: str = typer.Option(
            ...,
            "--kind",
            "-k",
            help="byte (window-attention byte MLM), bpe (BERT-style MLM over the corpus's "
            "reference byte-level BPE) or hf-bert (Hugging Face BertForMaskedLM of the bpe size "
            "on the same BPE and masks; pip install 'bitbench[hf]').",
        ),
        corpus: str = typer.Option(None, "--corpus", help="Corpus store (bitlab prepare-corpus)."),
        out: str = typer.Option(None, "--out", "-o", help="Run directory."),
        config: str = typer.Option(
            None,
            "--config",
            "-c",
            help="Shipped config name (tiny, ...) or a TOML file; model_preset picks the "
            "baseline's size (FLOPs per byte near bitswin's preset of the same name).",
        ),
        overrides: list[str] = typer.Option(
            [],
            "--set",
            "-s",
            help="Override a config key: --set lr=1e-3, --set model.vocab_size=4096.",
        ),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out exactly."),
        max_steps: int = typer.Option(None, "--max-steps", help="Optimizer steps."),
        max_minutes: float = typer.Option(None, "--max-minutes", help="Stop after N minutes."),
        max_flops: float = typer.Option(
            None, "--max-flops", help="Training FLOP budget (every forward counted)."
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
        """Train a token-level baseline with the bitswin trainer's loop and budget."""
        from bitlab.errors import UserError
        from bitlab.training import run_training
        from bitlab.training.launcher import LaunchOptions

        fields: dict[str, Any] = {"corpus": corpus, "out": out, "max_steps": max_steps,
                                  "max_minutes": max_minutes, "max_flops": max_flops}  # fmt: skip
        if resume:
            if not out:
                raise UserError("--resume needs --out RUN (the run directory to continue)")
            saved = Path(out) / "config.toml"
            if not saved.is_file():
                raise UserError(f"--resume: '{saved}' does not exist: is '{out}' a run directory?")
            if config is not None:
                raise UserError("--resume continues with the run's own config.toml: drop --config")
            source = str(saved)
        else:
            source = config or "tiny"
        cfg = baseline_config(kind, source, list(overrides), **fields)
        launch = LaunchOptions(
            gpus=gpus, nproc=nproc, nnodes=nnodes, node_rank=node_rank,
            rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id, max_restarts=max_restarts,
        )  # fmt: skip
        result = run_training(cfg, resume=resume, launch=launch, progress=not no_progress)
        if os.environ.get("RANK", "0") != "0":
            return
        out_dict = {"kind": kind, **result.to_dict(), "seq_len": cfg.seq_len}
        out_dict.pop("param_digests", None)
        model_dir = Path(result.run_dir) / "model"
        if (model_dir / "config.json").is_file():
            from bitbench.baselines import load_baseline

            out_dict["flops_per_byte"] = load_baseline(model_dir).flops_per_byte(cfg.seq_len)
        emit(out_dict, as_json, _render(out_dict))

    app.add_typer(sub, name="baseline")
