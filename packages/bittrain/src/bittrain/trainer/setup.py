"""Setting a run up: the corpus, where to resume from, the task (from the registry), the
parallel wrapper and the optimizer. Used once by the Trainer before its loop."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from bitcodec.corpus_reader import Corpus, open_corpus
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor
from torch.nn.parallel import DistributedDataParallel

from bittrain.engine import TaskSpec, TrainTask, build_task
from bittrain.engine.registry import task_options
from bittrain.errors import BittrainError
from bittrain.trainer.checkpoints.files import latest_checkpoint
from bittrain.trainer.config import TrainConfig
from bittrain.trainer.data import check_split_size
from bittrain.trainer.dist import DistContext
from bittrain.trainer.schedule import steps_for_budget

log = logging.getLogger(__name__)


def open_splits(config: TrainConfig) -> Corpus:
    if not config.corpus:
        raise BittrainError(
            "no corpus given: pass --corpus STORE (made with `bitlab prepare-corpus`)"
        )
    corpus = open_corpus(config.corpus)
    check_split_size(corpus.train, "train", config.seq_len, config.corpus)
    check_split_size(corpus.val, "val", config.seq_len, config.corpus)
    return corpus


def resume_point(run_dir: Path, resume: bool, *, restarted: bool = False) -> Path | None:
    """The checkpoint to continue from (None: a fresh start); refuses to overwrite a run.

    After an elastic restart (``restarted``) the newest checkpoint is used, or a fresh start when
    the workers died before the first one.
    """
    if not str(run_dir):
        raise BittrainError("no run directory given: pass --out RUN")
    ckpt = latest_checkpoint(run_dir)
    if resume or restarted:
        if ckpt is None and resume and not restarted:
            raise BittrainError(
                f"--resume: run directory '{run_dir}' has no checkpoint yet: start the run "
                "without --resume"
            )
        return ckpt
    if ckpt is not None:
        raise BittrainError(
            f"run directory '{run_dir}' already holds a run (checkpoint {ckpt.name}): continue it "
            "with --resume, or choose another --out"
        )
    return None


def task_spec(
    config: TrainConfig, corpus: Corpus | None, *, total_steps: int, is_main: bool = True
) -> TaskSpec:
    """The task's view of the config (``corpus`` None: for checking settings only)."""
    return TaskSpec(
        kind=config.task,
        preset=config.model_preset,
        model=dict(config.model_config),
        mask=dict(config.mask),
        corruption=dict(config.corruption),
        options=task_options(config.task, config.task_options),
        train_split=None if corpus is None else corpus.train,
        run_dir=Path(config.out),
        seed=config.seed,
        eval_seed=config.eval_seed,
        total_steps=total_steps,
        batch_size=config.batch_size,
        seq_len=config.seq_len,
        is_main=is_main,
        precision=config.precision,
    )


def make_task(config: TrainConfig, corpus: Corpus, ctx: DistContext) -> tuple[TrainTask, int]:
    """The run's task and its number of steps: ``max_steps``, or with a FLOP budget the most
    steps whose planned FLOPs fit it (the task is then built for that many steps, so its
    curriculum spans them)."""
    task = build_task(task_spec(config, corpus, total_steps=config.max_steps, is_main=ctx.is_main))
    if config.max_flops <= 0:
        return task, config.max_steps
    total = steps_for_budget(task.planned_flops, config.max_flops, config.max_steps)
    if total == config.max_steps and ctx.is_main:
        planned = task.planned_flops(total)
        if (
            planned < 0.99 * config.max_flops
        ):  # the step cap binds first: say so, it is easy to miss
            log.warning(
                "max_steps = %d ends the run at %.3g planned FLOPs, before max_flops = %.3g: "
                "raise --max-steps to spend the whole budget",
                total,
                planned,
                config.max_flops,
            )
    if total != config.max_steps:
        task = build_task(task_spec(config, corpus, total_steps=total, is_main=ctx.is_main))
    return task, total


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: weight decay on matrices, none on biases, norms and other vectors."""
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def make_optimizer(plain: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over ``decay_groups``. ``foreach``: one kernel per operation over all tensors
    instead of a Python loop over parameters (torch's default on CUDA, not on CPU, where it
    makes the update ~4x faster with bitwise the same numbers)."""
    return torch.optim.AdamW(
        decay_groups(plain, config.weight_decay),
        lr=config.lr,
        betas=(config.adam_beta1, config.adam_beta2),
        foreach=True,
    )


def wrap(plain: torch.nn.Module, config: TrainConfig, ctx: DistContext) -> torch.nn.Module:
    """torch.compile when asked, then DDP or FSDP2 across ranks."""
    if config.compile:
        plain.compile()
    if not ctx.distributed:
        return plain
    if config.parallel == "fsdp":
        mesh = init_device_mesh(ctx.device.type, (ctx.world_size,))
        # Shard the members of the outermost module lists (stages, blocks) one by one, so that
        # only one unit's parameters are gathered at a time, then the rest at the root.
        for module in list(plain.modules()):
            if isinstance(module, torch.nn.ModuleList):
                for child in module:
                    params = list(child.parameters())
                    if params and not any(isinstance(p, DTensor) for p in params):
                        fully_shard(child, mesh=mesh)
        fully_shard(plain, mesh=mesh)
        return plain
    ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(plain, device_ids=ids)
