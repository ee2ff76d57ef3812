"""Starting training: in this process, on N local workers through torch's elastic launcher
(``--nproc N`` on CPU with gloo, ``--gpus N`` with NCCL), or across nodes
(``--nnodes/--node-rank/--rdzv-endpoint``), with ``--max-restarts`` for elastic recovery.

``run_training`` checks what can be checked before any worker starts (corpus, run directory,
GPUs, batch split) so that mistakes come back as one line, then launches and returns rank 0's
result. Under ``torchrun`` (RANK/WORLD_SIZE set) it runs the worker directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from bitcodec.writable import check_writable
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from bittrain.errors import BittrainError
from bittrain.trainer.checkpoints.files import MODEL_WEIGHTS
from bittrain.trainer.config import TrainConfig
from bittrain.trainer.data import Sharding
from bittrain.trainer.setup import check_overwrite_inputs, open_splits, resume_point
from bittrain.trainer.worker import WorkerOptions, worker_main


@dataclass(frozen=True)
class LaunchOptions:
    """Where a run executes; not part of the config (results do not depend on it)."""

    gpus: int = 0  # local CUDA workers (NCCL)
    nproc: int = 0  # local CPU workers (gloo); 0 with gpus=0 means one in-process worker
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None  # host:port of node 0 for multi-node runs
    rdzv_id: str | None = None  # same on every node (default: derived from the run directory)
    max_restarts: int = 0  # elastic restarts after a worker failure (resume from checkpoint)


@dataclass
class TrainResult:
    status: str  # "ok" | "time" (stopped by max_minutes) | "flops" (stopped by max_flops)
    step: int
    total_steps: int = 0  # the schedule's length (max_steps, or what max_flops buys)
    train_flops: float = 0.0  # every forward counted, all ranks
    val: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    run_dir: str = ""
    last_checkpoint: int = -1
    world_size: int = 1
    param_digests: list[str] = field(default_factory=list)  # per local worker, for checks

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def under_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "MASTER_ADDR" in os.environ


def _check_launch(config: TrainConfig, launch: LaunchOptions) -> tuple[TrainConfig, int]:
    """Validate the launch against the machine; returns the config (device fixed) and workers."""
    if launch.gpus < 0 or launch.nproc < 0 or launch.nnodes < 1 or launch.max_restarts < 0:
        raise BittrainError("--gpus, --nproc and --max-restarts must be >= 0 and --nnodes >= 1")
    if launch.gpus and launch.nproc:
        raise BittrainError(
            "give either --gpus N (CUDA workers) or --nproc N (CPU workers), not both"
        )
    if not 0 <= launch.node_rank < launch.nnodes:
        raise BittrainError(f"--node-rank {launch.node_rank} must be in [0, {launch.nnodes - 1}]")
    if launch.nnodes > 1 and not launch.rdzv_endpoint:
        raise BittrainError("--nnodes > 1 needs --rdzv-endpoint HOST:PORT (node 0's address)")
    if launch.gpus:
        present = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if launch.gpus > present:
            raise BittrainError(
                f"--gpus {launch.gpus} asks for more GPUs than the {present} visible on this "
                f"machine: use --gpus {present}"
                if present
                else f"--gpus {launch.gpus}: no CUDA GPU is visible on this machine: use --nproc N "
                "for CPU workers"
            )
        if config.device == "cpu":
            raise BittrainError("--gpus conflicts with device = 'cpu': drop one of them")
        config = config.replace(device="cuda")
        per_node = launch.gpus
    else:
        if launch.nproc and config.device == "cuda":
            raise BittrainError("--nproc starts CPU workers but device = 'cuda': use --gpus N")
        if launch.nproc:
            config = config.replace(device="cpu")
        per_node = max(launch.nproc, 1)
    world = per_node * launch.nnodes
    Sharding(config.batch_size, world, 0, config.grad_accum)  # raises if the batch cannot split
    return config, per_node


def preflight(
    config: TrainConfig, *, resume: bool, init: str | None, overwrite: bool = False
) -> None:
    """Run directory, corpus and --init checks, before any worker starts: the run directory
    first (it must be writable, and hold no run unless resumed or overwritten)."""
    if not config.out:
        raise BittrainError("no run directory given: pass --out RUN")
    check_writable(config.out, "--out")
    open_splits(config)
    run_dir = Path(config.out)
    resume_point(run_dir, resume, overwrite=overwrite)
    if init is not None:
        weights = Path(init) / "model" / MODEL_WEIGHTS
        if not weights.is_file():
            raise BittrainError(
                f"--init '{init}' has no trained model ({weights} is missing): point it at a "
                "finished run directory"
            )
    if overwrite:
        table = config.task_options.get("table_codes")
        check_overwrite_inputs(
            run_dir, {"--init": init, "--table": table, "--corpus": config.corpus}
        )


def run_training(
    config: TrainConfig,
    *,
    resume: bool = False,
    init: str | None = None,
    launch: LaunchOptions | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> TrainResult:
    """Train ``config``; returns rank 0's result. Raises BittrainError for anything the user can fix,
    including a NaN loss (the message names the step and the last good checkpoint). A folder
    that already holds a run is refused unless ``resume`` (continue it) or ``overwrite``
    (remove it and start again)."""
    launch = launch or LaunchOptions()
    options = WorkerOptions(resume=resume, init=init, progress=progress, overwrite=overwrite)
    if under_torchrun():
        return _to_result(worker_main(config, options), int(os.environ["WORLD_SIZE"]))
    config, per_node = _check_launch(config, launch)
    preflight(config, resume=resume, init=init, overwrite=overwrite)
    world = per_node * launch.nnodes
    if world == 1 and launch.max_restarts == 0:
        return _to_result(worker_main(config, options), 1)
    return _elastic(config, launch, per_node, options)


def _to_result(raw: dict[str, Any], world: int, digests: list[str] | None = None) -> TrainResult:
    if raw.get("status") == "nan":
        raise BittrainError(raw["message"])
    digests = digests if digests is not None else [raw.get("param_digest", "")]
    if len(set(digests)) > 1:
        raise RuntimeError(f"workers ended with different parameters: {digests}")
    return TrainResult(
        status=raw["status"],
        step=int(raw["step"]),
        total_steps=int(raw.get("total_steps", 0)),
        train_flops=float(raw.get("train_flops", 0.0)),
        val=dict(raw.get("val") or {}),
        elapsed_s=float(raw["elapsed_s"]),
        run_dir=raw["run_dir"],
        last_checkpoint=int(raw.get("last_checkpoint", -1)),
        world_size=world,
        param_digests=digests,
    )


def _elastic(config: TrainConfig, launch: LaunchOptions, per_node: int, options) -> TrainResult:
    error_dir = tempfile.mkdtemp(prefix="bitlab-train-errors-")
    options = dataclasses.replace(options, error_dir=error_dir)
    if launch.nnodes == 1 and not launch.rdzv_endpoint:
        endpoint, rdzv_configs = "localhost:0", {}
        run_id = launch.rdzv_id or uuid.uuid4().hex
    else:
        endpoint = launch.rdzv_endpoint or ""
        rdzv_configs = {"is_host": launch.node_rank == 0}
        run_id = (
            launch.rdzv_id
            or hashlib.sha1(str(Path(config.out).resolve()).encode()).hexdigest()[:16]
        )
    if config.device != "cuda":
        os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # numba threads break in spawned workers
    # Restarted workers that share the agent's TCP store read the previous attempt's gloo
    # addresses and fail with "connection refused" (torch 2.13); a fresh store per attempt
    # (hosted by rank 0) does not.
    os.environ.setdefault("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")
    lc = LaunchConfig(
        min_nodes=launch.nnodes,
        max_nodes=launch.nnodes,
        nproc_per_node=per_node,
        run_id=run_id,
        rdzv_backend="c10d",
        rdzv_endpoint=endpoint,
        rdzv_configs=rdzv_configs,
        max_restarts=launch.max_restarts,
        monitor_interval=0.2,
        start_method="spawn",
    )
    try:
        results = elastic_launch(lc, worker_main)(config, options)
    except ChildFailedError as exc:
        messages = sorted(Path(error_dir).glob("rank-*.json"))
        if messages:
            raise BittrainError(json.loads(messages[0].read_text())["message"]) from None
        first = next(iter(exc.failures.values()), None)
        why = f"exit code {first.exitcode}" if first is not None else "failed"
        raise BittrainError(
            f"training workers failed ({why}) after {launch.max_restarts} restart(s); the run "
            f"directory '{config.out}' keeps its last checkpoint: continue with --resume "
            "(raise --max-restarts to recover automatically)"
        ) from None
    finally:
        shutil.rmtree(error_dir, ignore_errors=True)
    world = per_node * launch.nnodes
    raw = results.get(0) if 0 in results else next(iter(results.values()))
    digests = [r.get("param_digest", "") for _, r in sorted(results.items()) if r]
    return _to_result(raw, world, digests)
