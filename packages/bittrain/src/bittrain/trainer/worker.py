"""The function every training worker runs: in this process (one worker), under torch's
elastic agent (``--nproc``/``--gpus``), or under ``torchrun -m bitlab.train``.

Workers cannot print a user error as the CLI does (the agent only sees an exit code), so a
worker that fails on a mistake the user can fix writes the one-line message to
``error_dir/rank-R.json`` and exits with code 2; the launcher reads it back.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bittrain.errors import is_user_error
from bittrain.fileio import write_text_atomic
from bittrain.trainer.config import TrainConfig
from bittrain.trainer.dist import init_distributed
from bittrain.trainer.loop import Trainer, is_oom, oom_error


@dataclass(frozen=True)
class WorkerOptions:
    resume: bool = False
    init: str | None = None
    progress: bool = True
    error_dir: str | None = None  # set when running under the elastic agent
    overwrite: bool = False  # remove the run already in the folder (rank 0, first attempt)


def _report(error_dir: str, rank: int, message: str) -> None:
    path = Path(error_dir) / f"rank-{rank}.json"
    write_text_atomic(path, json.dumps({"rank": rank, "message": message}))


def _set_threads(device_type: str) -> None:
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if device_type == "cpu" and local_world > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))


def worker_main(config: TrainConfig, options: WorkerOptions) -> dict[str, Any]:
    rank = int(os.environ.get("RANK", "0"))
    if options.error_dir and any(Path(options.error_dir).glob("rank-*.json")):
        sys.exit(2)  # an earlier attempt failed on a user mistake: restarting cannot help
    try:
        ctx = init_distributed(config.device)
        _set_threads(ctx.device.type)
        trainer = Trainer(
            config,
            ctx,
            resume=options.resume,
            init=options.init,
            progress=options.progress,
            overwrite=options.overwrite,
        )
        result = trainer.train()
        # Free the DDP wrapper before the process group: when its reducer holds the group's last
        # reference, the group is destroyed with the GIL held while a gloo thread may need the
        # GIL to free a finished all-reduce: a deadlock (torch 2.13; the NaN stop hung one
        # 2-worker run in two). Destroyed by destroy_process_group, the group releases the GIL.
        del trainer
        gc.collect()
    except BaseException as exc:
        if is_oom(exc):
            exc = oom_error(config, "?")
        if is_user_error(exc) and options.error_dir:
            _report(options.error_dir, rank, str(exc))
            sys.stderr.flush()
            os._exit(2)  # no traceback, no hanging collective teardown
        if is_user_error(exc) and exc is not sys.exc_info()[1]:
            raise exc from None
        raise
    ctx.close()
    return result
