"""`bitlab train`: curriculum training on one process, N local workers, or many nodes."""

from __future__ import annotations

from typing import Any

import typer

from bitlab.commands import train_common as opt


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
        overrides: list[str] = opt.OVERRIDES,
        corpus: str = opt.CORPUS,
        out: str = opt.OUT,
        resume: bool = opt.RESUME,
        allow_config_change: bool = opt.ALLOW_CONFIG_CHANGE,
        init: str = typer.Option(
            None, "--init", help="Start from another run's model (fine-tuning)."
        ),
        table: str = typer.Option(
            None, "--table", help="Encoding table whose codes feed the model (config table_codes)."
        ),
        table_mode: str = typer.Option(
            None, "--table-mode", help="fixed: use --table as it is; adaptive: keep growing it."
        ),
        max_steps: int = opt.MAX_STEPS,
        max_minutes: float = opt.MAX_MINUTES,
        max_flops: float = opt.MAX_FLOPS,
        gpus: int = opt.GPUS,
        nproc: int = opt.NPROC,
        nnodes: int = opt.NNODES,
        node_rank: int = opt.NODE_RANK,
        rdzv_endpoint: str = opt.RDZV_ENDPOINT,
        rdzv_id: str = opt.RDZV_ID,
        max_restarts: int = opt.MAX_RESTARTS,
        no_progress: bool = opt.NO_PROGRESS,
        as_json: bool = opt.AS_JSON,
    ) -> None:
        """Train a model with the masking curriculum; checkpoints resume exactly."""
        from bitlab.training import load_config

        budget = {"max_steps": max_steps, "max_minutes": max_minutes, "max_flops": max_flops}
        fields: dict[str, Any] = {
            "corpus": corpus,
            "out": out,
            **budget,
            "table_codes": table,
            "table_mode": table_mode,
        }
        cfg = opt.resolve_config(
            lambda source: load_config(source, overrides, **fields),
            resume=resume,
            out=out,
            config=config,
            budget=budget,
            allow_config_change=allow_config_change,
        )
        result = opt.launch_and_train(
            cfg, resume=resume, init=init, progress=not no_progress, gpus=gpus, nproc=nproc,
            nnodes=nnodes, node_rank=node_rank, rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id,
            max_restarts=max_restarts,
        )  # fmt: skip
        opt.emit_on_rank_zero(result.to_dict(), as_json)
