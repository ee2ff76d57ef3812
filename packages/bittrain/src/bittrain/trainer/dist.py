"""The worker's view of torch.distributed: rank, world size, device, and the few collectives
the loop needs. A single process without a process group is world size 1 and every collective
is the identity, so the loop has one code path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as torch_dist

from bittrain.errors import BittrainError


@dataclass
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None  # None: no process group (one process)
    restart_count: int  # TORCHELASTIC_RESTART_COUNT: > 0 after the agent restarted the workers

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.backend is not None

    # -- collectives -----------------------------------------------------------------------------

    def all_reduce_sum(self, values: torch.Tensor) -> torch.Tensor:
        if self.distributed:
            values = values.to(self.device)
            torch_dist.all_reduce(values, op=torch_dist.ReduceOp.SUM)
        return values

    def all_reduce_max(self, values: torch.Tensor) -> torch.Tensor:
        if self.distributed:
            values = values.to(self.device)
            torch_dist.all_reduce(values, op=torch_dist.ReduceOp.MAX)
        return values

    def broadcast_object(self, obj: Any) -> Any:
        if not self.distributed:
            return obj
        box = [obj]
        torch_dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather_objects(self, obj: Any) -> list[Any]:
        if not self.distributed:
            return [obj]
        out: list[Any] = [None] * self.world_size
        torch_dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.distributed:
            torch_dist.barrier()

    def close(self) -> None:
        if self.distributed and torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def pick_device(device: str, local_rank: int) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise BittrainError(
                "device 'cuda' was asked for but no CUDA GPU is visible: --set device=cpu"
            )
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_distributed(device: str) -> DistContext:
    """Join the process group described by the environment (torchrun / elastic agent), if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    restarts = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    dev = pick_device(device, local_rank)
    backend = None
    if world > 1 or ("TORCHELASTIC_RUN_ID" in os.environ and "MASTER_ADDR" in os.environ):
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if not torch_dist.is_initialized():
            torch_dist.init_process_group(backend=backend, init_method="env://")
        world = torch_dist.get_world_size()
        rank = torch_dist.get_rank()
    return DistContext(rank, world, local_rank, dev, backend, restarts)
