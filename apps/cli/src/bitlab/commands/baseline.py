"""`bitlab baseline train`: the token-level baselines (bitbaselines) through the same trainer.

A thin wrapper over `bitlab train` with ``model = byte | bpe``: the same loop, distribution,
checkpoints, budget and run directory, so baselines and bitswin runs sit in one `bitlab compare`
table at matched budgets.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from bitlab.commands import command_group
from bitlab.commands import train_common as opt
from bitlab.errors import UserError

KINDS = ("byte", "bpe", "hf-bert")


def register(app: typer.Typer) -> None:
    sub = command_group(
        "Token-level baselines (byte-level and BPE masked LMs) trained like bitswin runs."
    )

    @sub.command("train")
    @opt.with_run_options
    def train(
        kind: str = typer.Option(
            ...,
            "--kind",
            "-k",
            help="byte (window-attention byte MLM), bpe (BERT-style MLM over the corpus's "
            "reference byte-level BPE) or hf-bert (Hugging Face BertForMaskedLM of the bpe size "
            "on the same BPE and masks; pip install 'bitbaselines[hf]').",
        ),
        config: str = typer.Option(
            None,
            "--config",
            "-c",
            help="Shipped config name (tiny, ...) or a TOML file; model_preset picks the "
            "baseline's size (FLOPs per byte near bitswin's preset of the same name).",
        ),
        *,
        run: opt.RunOptions,
    ) -> None:
        """Train a token-level baseline with the bitswin trainer's loop and budget."""
        from bittrain.runs import load_run

        if kind not in KINDS:
            raise UserError(
                f"--kind '{kind}' is not a baseline: use --kind byte, --kind bpe or --kind hf-bert"
            )
        cfg, result = opt.launch_and_train(run, config, task=kind)
        if os.environ.get("RANK", "0") != "0":
            return
        out_dict = {"kind": kind, **result.to_dict(), "seq_len": cfg.seq_len}
        out_dict.pop("param_digests", None)
        if (Path(result.run_dir) / "model" / "config.json").is_file():
            out_dict["flops_per_byte"] = load_run(result.run_dir).flops_per_byte(cfg.seq_len)
        opt.emit_on_rank_zero(out_dict, run.as_json, title=f"{kind} baseline ")

    app.add_typer(sub, name="baseline")
