"""Checkpoints with their cadence: what a step's checkpoint holds, writing it (rank 0,
atomically), restoring it, and the final model directory.

A checkpoint after ``s`` steps holds the model, the optimizer moments, every rank's RNG, the
task's state and ``trainer_state.json`` (step, data position, schedule, FLOPs spent, curriculum;
written last): resuming from it repeats exactly what the uninterrupted run would have done.
"""

from __future__ import annotations

import copy
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch

from bittrain.engine import TrainTask
from bittrain.trainer.checkpoints import state as state_io
from bittrain.trainer.checkpoints.files import (
    STATE_FILE,
    read_json,
    remove_checkpoints_after,
    write_checkpoint,
    write_json_atomic,
)
from bittrain.trainer.config import TrainConfig
from bittrain.trainer.config_files import write_config
from bittrain.trainer.dist import DistContext
from bittrain.trainer.metrics_log import truncate_metrics
from bittrain.trainer.plots import write_plots
from bittrain.trainer.schedule import Schedule

STATE_FORMAT = 2


class Checkpointer:
    def __init__(
        self,
        config: TrainConfig,
        ctx: DistContext,
        task: TrainTask,
        plain: torch.nn.Module,
        *,
        fsdp: bool,
    ) -> None:
        self.config = config
        self.ctx = ctx
        self.task = task
        self.plain = plain
        self.fsdp = fsdp
        self.run_dir = Path(config.out)
        self.every = config.checkpoint_every
        # FSDP2: rank 0 rebuilds the full model on the CPU to save it.
        self.shadow = copy.deepcopy(plain).to("cpu") if fsdp and ctx.is_main else None

    def due(self, step: int, *, last: bool) -> bool:
        return last or step % self.every == 0

    def save(
        self,
        step: int,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        schedule: Schedule,
        phase: int,
        elapsed_s: float,
        train_flops: float,
    ) -> None:
        """Write ``checkpoints/step-NNNNNNNN`` (a collective under FSDP2: every rank calls)."""
        cfg = self.config
        model_state = state_io.full_model_state(model, self.plain, self.fsdp)
        optim_state = state_io.full_optimizer_state(model, optimizer, self.fsdp)
        rngs = self.ctx.gather_objects(state_io.rng_state())
        trainer_state = {
            "format": STATE_FORMAT,
            "step": step,
            "phase": phase,
            "elapsed_s": elapsed_s,
            "train_flops": train_flops,
            "total_steps": schedule.total_steps,
            "world_size": self.ctx.world_size,
            "data": {
                "next_step": step,
                "samples_seen": step * cfg.batch_size,
                "scheme": "sample i of step s drawn with numpy rng (seed, s, i)",
            },
            "scheduler": {"kind": "warmup+cosine", "step": step, "next_lr": schedule.lr_at(step)},
            "curriculum": self.task.schedule_state(step),
        }

        def fill(directory: Path) -> None:
            self._save_model(directory, model_state)
            state_io.save_optimizer(directory, optim_state)
            state_io.save_rng(directory, rngs)
            self.task.save_state(directory / "task")
            write_config(cfg, directory / "config.toml")
            write_json_atomic(directory / STATE_FILE, trainer_state)

        if self.ctx.is_main:
            write_checkpoint(self.run_dir, step, fill, cfg.keep_checkpoints)
        self.ctx.barrier()

    def restore(
        self, ckpt: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer
    ) -> dict[str, Any]:
        """Load a checkpoint into the live objects; returns its trainer state."""
        state = read_json(ckpt / STATE_FILE)
        state_io.load_optimizer(ckpt, model, optimizer, self.fsdp)
        state_io.restore_rng(ckpt, self.ctx.rank)
        self.task.load_state(ckpt / "task")
        if self.ctx.is_main:
            remove_checkpoints_after(self.run_dir, int(state["step"]))
            truncate_metrics(self.run_dir, int(state["step"]))
        return state

    def _save_model(self, directory: Path, model_state: dict[str, Any]) -> None:
        if self.shadow is not None:
            self.shadow.load_state_dict(model_state)
            self.task.save_pretrained(self.shadow, directory)
        else:
            self.task.save_pretrained(self.plain, directory)

    def finish(self, model: torch.nn.Module) -> None:
        """RUN/model (replaced atomically: a reader sees the old model or the new one), the
        task's own outputs and the plots."""
        model_state = state_io.full_model_state(model, self.plain, self.fsdp)
        if self.ctx.is_main:
            target = self.run_dir / "model"
            tmp = self.run_dir / f".model.tmp-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            self._save_model(tmp, model_state)
            old = self.run_dir / f".model.old-{uuid.uuid4().hex[:8]}"
            if target.exists():
                target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
            self.task.finalize(self.run_dir)
            write_plots(self.run_dir)
        self.ctx.barrier()
