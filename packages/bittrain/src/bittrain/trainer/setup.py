"""Setting a run up: the corpus, where to resume from (or whether the folder may be written
at all), the task (from the registry), the parallel wrapper and the optimizer. Used once by the
Trainer before its loop, and by the launcher's checks before any worker starts."""

from __future__ import annotations

import logging
import shutil
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
from bittrain.rundir import run_entries
from bittrain.trainer.checkpoints.files import newest_usable_checkpoint
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


def check_resume_or_overwrite(resume: bool, overwrite: bool) -> None:
    if resume and overwrite:
        raise BittrainError(
            "--resume continues the run in --out and --overwrite replaces it: give one of them"
        )


def resume_point(
    run_dir: Path,
    resume: bool,
    *,
    overwrite: bool = False,
    restarted: bool = False,
    announce: bool = False,
) -> Path | None:
    """The checkpoint to continue from (None: a fresh start), or one line saying why not.

    A fresh start needs a folder that holds no run (``rundir.RUN_ENTRIES``) unless
    ``overwrite``; ``resume`` takes the newest whole checkpoint, passing over damaged newer ones
    (logged when ``announce``). After an elastic restart (``restarted``) the newest whole
    checkpoint is used, or a fresh start when the workers died before the first one. Every
    refusal names a fix that works when followed.
    """
    check_resume_or_overwrite(resume, overwrite)
    if restarted or resume:
        ckpt, skipped = newest_usable_checkpoint(run_dir)
        if ckpt is None and resume and not restarted:
            raise BittrainError(_nothing_to_resume(run_dir, skipped))
        if announce and skipped:
            log.warning(
                "resuming %s from %s, passing over the damaged %s",
                run_dir,
                ckpt.name if ckpt is not None else "step 0 (the elastic restart)",
                "; ".join(f"{path.name} ({why})" for path, why in skipped),
            )
        return ckpt
    entries = run_entries(run_dir)
    if entries and not overwrite:
        ckpt, _ = newest_usable_checkpoint(run_dir)
        held = f"run directory '{run_dir}' already holds a run ({_listing(run_dir, entries)})"
        if ckpt is not None:
            raise BittrainError(
                f"{held}: continue it from {ckpt.name} with --resume, replace it with "
                "--overwrite, or choose another --out"
            )
        raise BittrainError(
            f"{held} with no checkpoint to continue from: choose another --out, or replace it "
            "with --overwrite"
        )
    return None


def _listing(run_dir: Path, entries: list[str]) -> str:
    return ", ".join(f"{n}/" if (Path(run_dir) / n).is_dir() else n for n in entries)


def _nothing_to_resume(run_dir: Path, skipped: list[tuple[Path, str]]) -> str:
    if skipped:
        why = "; ".join(f"{path.name}: {problem}" for path, problem in skipped)
        return (
            f"--resume: no checkpoint of '{run_dir}' can be resumed from ({why}): put an intact "
            "copy back, or start again with --overwrite (replaces the run)"
        )
    entries = run_entries(run_dir)
    if "model" in entries:
        return (
            f"--resume: '{run_dir}' holds a finished model but no checkpoint to continue from: "
            "choose another --out, or start again with --overwrite (replaces its model)"
        )
    if entries:
        return (
            f"--resume: run directory '{run_dir}' has no checkpoint yet: start it again with "
            "--overwrite, or choose another --out"
        )
    return f"--resume: run directory '{run_dir}' holds no run: start the run without --resume"


def clear_run(run_dir: Path) -> list[str]:
    """Remove what an earlier run wrote into ``run_dir`` (``--overwrite``); the folder's other
    files stay. Returns the names removed."""
    removed = run_entries(run_dir)
    for name in removed:
        path = Path(run_dir) / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    if removed:
        log.info("--overwrite: removed the earlier run's %s from %s", ", ".join(removed), run_dir)
    return removed


def check_overwrite_inputs(run_dir: Path, inputs: dict[str, str | None]) -> None:
    """``--overwrite`` removes the run's entries before training: an input read from inside
    them (``--init`` of the same run: the run folder itself, its table) would be gone by then."""
    doomed = [(Path(run_dir) / name).resolve() for name in run_entries(run_dir)]
    if not doomed:
        return
    here = Path(run_dir).resolve()
    for flag, value in inputs.items():
        if not value or "://" in value:
            continue
        where = Path(value).resolve()
        if where == here or any(where == d or d in where.parents for d in doomed):
            raise BittrainError(
                f"{flag} '{value}' lies in the run that --overwrite replaces ('{run_dir}'): copy "
                "it elsewhere first, or choose another --out"
            )


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
