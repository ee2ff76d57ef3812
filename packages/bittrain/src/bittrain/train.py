"""Training without the CLI: ``python -m bittrain ...`` and ``torchrun -m bittrain.train ...``.

The options are ``bitlab train``'s (``--config``, ``--corpus``, ``--out``, ``--set``,
``--resume``, ``--overwrite``, budgets, launch flags); ``--kind`` trains a baseline as
``bitlab baseline train`` does. Under torchrun the environment (RANK, WORLD_SIZE,
MASTER_ADDR) names this worker's place and the trainer joins that process group instead of
launching workers itself. The result is printed as one JSON object on rank 0; a mistake the
user can fix is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from bittrain.errors import is_user_error
from bittrain.logs import configure
from bittrain.trainer.launcher import LaunchOptions
from bittrain.trainer.request import TrainRequest, train_request


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bittrain", description="Train a bitlab model (as `bitlab train`)."
    )
    p.add_argument("--config", "-c", help="shipped config name (tiny, base, large) or TOML file")
    p.add_argument("--kind", help="train a baseline kind (byte, bpe, hf-bert) instead of bitswin")
    p.add_argument("--corpus", help="corpus store (bitlab prepare-corpus)")
    p.add_argument("--out", "-o", help="run directory")
    p.add_argument("--set", "-s", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE", help="override a config key (repeatable)")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (model, checkpoints, logs)")  # fmt: skip
    p.add_argument("--allow-config-change", action="store_true")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--max-minutes", type=float)
    p.add_argument("--max-flops", type=float)
    p.add_argument("--init", help="start from another run's model")
    p.add_argument("--nproc", type=int, default=0, help="local CPU workers (gloo)")
    p.add_argument("--gpus", type=int, default=0, help="local CUDA workers (NCCL)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--log-level", default=None, help="debug, info, warning, error")
    return p


def request_of(args: argparse.Namespace) -> TrainRequest:
    return TrainRequest(
        config=args.config, overrides=tuple(args.overrides), corpus=args.corpus, out=args.out,
        resume=args.resume, overwrite=args.overwrite,
        allow_config_change=args.allow_config_change,
        max_steps=args.max_steps, max_minutes=args.max_minutes, max_flops=args.max_flops,
        init=args.init, task=args.kind,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        configure(args.log_level)
        launch = LaunchOptions(gpus=args.gpus, nproc=args.nproc)
        _, result = train_request(request_of(args), launch, progress=not args.no_progress)
    except Exception as exc:
        if not is_user_error(exc):
            raise
        print(f"bittrain: error: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps(result.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
