"""`bitlab baseline train`: the token-level baselines (bitbaselines) through the same trainer.

A thin wrapper over `bitlab train` with ``model = byte | bpe``: the same loop, distribution,
checkpoints, budget and run directory, so baselines and bitswin runs sit in one `bitlab compare`
table at matched budgets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from bitlab.commands import command_group
from bitlab.commands import train_common as opt

KINDS = ("byte", "bpe", "hf-bert")


def baseline_config(kind: str, source: str, overrides: list[str], **fields: Any):
    """The TrainConfig of a baseline run: ``source`` (shipped name or TOML) with task=kind."""
    from bittrain import load_config
    from bittrain.trainer.config import LEGACY_KEYS, parse_override

    from bitlab.errors import UserError

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
    from bittrain.trainer.config import apply_overrides

    cfg = load_config(source, [*overrides, f"task={kind}"], **fields)
    if load_config(source).task != kind:
        # The file's [model] table was written for another model (the shipped configs describe
        # bitswin): keep only the model.* keys given here.
        own = apply_overrides({}, [t for t in overrides if t.strip().startswith("model.")])
        cfg = cfg.replace(model_config=own.get("model_config", {}))
    return cfg


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
            "on the same BPE and masks; pip install 'bitbench[hf]').",
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

        fields: dict[str, Any] = {"corpus": run.corpus, "out": run.out, **run.budget}
        cfg = opt.resolve_config(
            lambda source: baseline_config(kind, source, list(run.overrides), **fields), run
        )
        result = opt.launch_and_train(cfg, run)
        if os.environ.get("RANK", "0") != "0":
            return
        out_dict = {"kind": kind, **result.to_dict(), "seq_len": cfg.seq_len}
        out_dict.pop("param_digests", None)
        if (Path(result.run_dir) / "model" / "config.json").is_file():
            out_dict["flops_per_byte"] = load_run(result.run_dir).flops_per_byte(cfg.seq_len)
        opt.emit_on_rank_zero(out_dict, run.as_json, title=f"{kind} baseline ")

    app.add_typer(sub, name="baseline")
