"""`bitlab train`: curriculum training on one process, N local workers, or many nodes."""

from __future__ import annotations

import typer

from bitlab.commands import train_common as opt


def register(app: typer.Typer) -> None:
    @app.command("train")
    @opt.with_run_options
    def train(
        config: str = typer.Option(
            None,
            "--config",
            "-c",
            help="Shipped config name (tiny, base, large) or a TOML file. Default: tiny "
            "(with --resume: the run's own config.toml).",
        ),
        init: str = typer.Option(
            None, "--init", help="Start from another run's model (fine-tuning)."
        ),
        table: str = typer.Option(
            None, "--table", help="Encoding table whose codes feed the model (config table_codes)."
        ),
        table_mode: str = typer.Option(
            None,
            "--table-mode",
            help="fixed: use --table as it is; adaptive: keep growing it from the model's "
            "units (without --table: from an empty table).",
        ),
        *,
        run: opt.RunOptions,
    ) -> None:
        """Train a model with the masking curriculum; checkpoints resume exactly."""
        fields = {"table_codes": table, "table_mode": table_mode}
        _, result = opt.launch_and_train(run, config, init=init, fields=fields)
        opt.emit_on_rank_zero(result.to_dict(), run.as_json)
