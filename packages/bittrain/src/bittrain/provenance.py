"""How a run was made: RUN/env.json and RUN/train.log.

``RunRecords.start(run_dir, config, ctx, resume_from=...)`` is called by every training worker
once its process group is up (every rank takes part: it gathers each rank's device). Rank 0
then writes RUN/env.json (bitlab package versions, torch / CUDA / cuDNN / NCCL, the git commit
of the code when it runs from a git checkout, argv, the devices of all ranks, world size, the
host) and opens RUN/train.log for the run's log records. A resumed run appends to train.log
and keeps the environments of its earlier sessions in env.json's ``previous`` list.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import platform
import shlex
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from bittrain.command_line import recorded_argv
from bittrain.fileio import write_text_atomic
from bittrain.logs import FILE_ONLY, PACKAGES, RunFile, configure, has_console

log = logging.getLogger(__name__)

ENV_FILE = "env.json"
LOG_FILE = "train.log"
ENV_FORMAT = 1
# Our distributions: the packages, and the CLI's (bitlab-cli; its import name is `bitlab`).
BITLAB_DISTRIBUTIONS = (*(p for p in PACKAGES if p != "bitlab"), "bitlab-cli")
THIRD_PARTY = (
    "torch",
    "numpy",
    "numba",
    "zarr",
    "safetensors",
    "huggingface_hub",
    "tokenizers",
    "typer",
    "rich",
)
# Environment variables that change what a run does or where it runs.
ENV_VARS = (
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_RUN_ID",
    "TORCHELASTIC_RESTART_COUNT",
    "BITLAB_TRAIN_FAULT",
    "BITLAB_LOG_LEVEL",
)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def package_versions() -> dict[str, dict[str, str | None]]:
    return {
        "bitlab": {d: _version(d) for d in BITLAB_DISTRIBUTIONS},
        "third_party": {d: _version(d) for d in THIRD_PARTY},
    }


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_state(source_file: str | Path | None = None) -> dict[str, Any] | None:
    """Commit, branch and dirtiness of the git checkout holding bittrain's code, or None when
    the code does not run from a checkout (an installed wheel; or git is missing)."""
    if source_file is None:
        source_file = __file__
    path = Path(source_file).resolve()
    top = _git(["rev-parse", "--show-toplevel"], path.parent)
    # The file must be tracked there: a wheel installed into a venv inside some checkout is not
    # that checkout's code.
    if top is None or _git(["ls-files", "--error-unmatch", str(path)], path.parent) is None:
        return None
    status = _git(["status", "--porcelain", "--untracked-files=no"], Path(top))
    return {
        "commit": _git(["rev-parse", "HEAD"], Path(top)),
        "branch": _git(["rev-parse", "--abbrev-ref", "HEAD"], Path(top)),
        "dirty": bool(status),
        "root": top,
    }


def torch_versions() -> dict[str, Any]:
    cuda = torch.cuda.is_available()
    info: dict[str, Any] = {
        "version": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "nccl": None,
        "threads": torch.get_num_threads(),
    }
    if cuda:
        with contextlib.suppress(AttributeError, RuntimeError):
            info["nccl"] = ".".join(str(v) for v in torch.cuda.nccl.version())
    return info


def device_info(device: Any, rank: int) -> dict[str, Any]:
    """What rank ``rank`` computes on."""
    entry: dict[str, Any] = {"rank": rank, "host": socket.gethostname(), "device": str(device)}
    if getattr(device, "type", str(device)) == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        entry.update(
            name=props.name,
            memory_gib=round(props.total_memory / 2**30, 1),
            capability=f"{props.major}.{props.minor}",
        )
    else:
        entry.update(name=platform.processor() or platform.machine(), cpus=os.cpu_count())
    return entry


def environment(
    *,
    world_size: int = 1,
    devices: list[dict[str, Any]] | None = None,
    argv: list[str] | None = None,
    resume_from: str | None = None,
) -> dict[str, Any]:
    """The env.json record of one training session. ``argv`` defaults to the bitlab command
    line the CLI recorded (bittrain.command_line, inherited by spawned workers), else sys.argv."""
    if argv is None:
        argv = recorded_argv()
    return {
        "format": ENV_FORMAT,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "argv": argv,
        "command": shlex.join(argv),
        "cwd": os.getcwd(),
        "resume_from": resume_from,
        "world_size": world_size,
        "devices": devices or [],
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "executable": sys.executable,
        "packages": package_versions(),
        "torch": torch_versions(),
        "git": git_state(),
        "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
    }


def write_env(run_dir: Path, record: dict[str, Any]) -> Path:
    """RUN/env.json (atomic). An earlier session's record moves into ``previous``."""
    path = Path(run_dir) / ENV_FILE
    previous: list[dict[str, Any]] = []
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = None
        if isinstance(old, dict):
            previous = [*list(old.pop("previous", []) or []), old]
    record = {**record, "previous": previous}
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")
    return path


class RunRecords:
    """env.json + train.log of a run; ``close()`` when the run ends (idempotent)."""

    def __init__(self, log_file: RunFile | None) -> None:
        self.log_file = log_file

    @classmethod
    def start(
        cls, run_dir: str | Path, ctx: Any, *, resume_from: str | Path | None = None
    ) -> RunRecords:
        """Every rank calls this (collective); rank 0 writes. ``ctx``: the trainer's DistContext."""
        if not has_console():  # a spawned worker: the CLI's logging setup is not inherited
            configure()
        devices = ctx.gather_objects(device_info(ctx.device, ctx.rank))
        if not ctx.is_main:
            return cls(None)
        run_dir = Path(run_dir)
        log_file = RunFile(run_dir / LOG_FILE, rank=ctx.rank)
        record = environment(
            world_size=ctx.world_size,
            devices=devices,
            resume_from=str(resume_from) if resume_from is not None else None,
        )
        write_env(run_dir, record)
        git = record["git"] or {}
        log.info(
            "%s run %s: %s; world size %d on %s; bitlab-cli %s, torch %s (CUDA %s), git %s%s",
            "resuming" if resume_from is not None else "starting",
            run_dir,
            record["command"],
            ctx.world_size,
            ", ".join(sorted({d["device"] for d in devices})),
            record["packages"]["bitlab"]["bitlab-cli"],
            record["torch"]["version"],
            record["torch"]["cuda"],
            git.get("commit", "none")[:12] if git else "none",
            " (dirty)" if git.get("dirty") else "",
            extra={FILE_ONLY: True},
        )
        return cls(log_file)

    def close(self, result: dict[str, Any] | None = None) -> None:
        """Log how the session ended (the trainer's result dict) and detach train.log."""
        if self.log_file is None:
            return
        if result is not None:
            level = logging.ERROR if result.get("status") == "nan" else logging.INFO
            log.log(
                level,
                "training session ended: status %s at step %s after %.0f s%s",
                result.get("status"),
                result.get("step"),
                float(result.get("elapsed_s") or 0.0),
                f": {result['message']}" if result.get("message") else "",
                extra={FILE_ONLY: True},  # the CLI prints the outcome itself
            )
        self.log_file.close()
        self.log_file = None
