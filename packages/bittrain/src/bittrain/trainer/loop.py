"""The training loop that every worker runs (one process, DDP or FSDP2).

Reproducibility: step ``s`` (0-based) trains on windows that are a pure function of
(seed, s, sample) (``data.py``), masks that are a pure function of (seed, s, sample) (the task),
the learning rate ``Schedule.lr_at(s)``, and torch's RNG reseeded from (seed, s, rank) before the
step (dropout). A checkpoint after ``s`` steps holds everything else, so resuming from it repeats
exactly what the uninterrupted run would have done.

The loop reads top to bottom; each component owns its cadence: the Schedule (learning rate, when
to stop), the FlopMeter (FLOPs spent; FlopCounterMode on the first step of each curriculum
phase), the TrainLog (metrics rows), the Validator and the Checkpointer. Step numbers in logs,
metrics and checkpoint names count optimizer steps *done* (1-based).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from bittrain.engine import autocast
from bittrain.errors import BittrainError
from bittrain.provenance import RunRecords
from bittrain.trainer import setup
from bittrain.trainer.checkpoints import state as state_io
from bittrain.trainer.checkpoints.checkpointer import Checkpointer
from bittrain.trainer.checkpoints.files import MODEL_WEIGHTS, list_checkpoints
from bittrain.trainer.config import TrainConfig
from bittrain.trainer.config_files import write_config
from bittrain.trainer.data import Sharding
from bittrain.trainer.dist import DistContext
from bittrain.trainer.faults import Faults
from bittrain.trainer.flop_meter import FlopMeter
from bittrain.trainer.metrics_log import TrainLog, row_keys, truncate_metrics
from bittrain.trainer.progress import ProgressLine, val_summary
from bittrain.trainer.schedule import Schedule, set_lr
from bittrain.trainer.step import clip_gradients, host_values, micro_inputs
from bittrain.trainer.validator import Validator

log = logging.getLogger(__name__)

OOM_HINT = (
    "out of memory at step {step}: lower --set batch_size=... (now {batch}) or seq_len=... "
    "(now {seq}), or raise grad_accum (now {accum}) to keep the global batch with smaller "
    "micro-batches"
)


def step_seed(seed: int, step: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1, np.uint64)[0] >> 1)


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        ctx: DistContext,
        *,
        resume: bool,
        init: str | None,
        progress: bool,
        overwrite: bool = False,
    ) -> None:
        self.config = config
        self.ctx = ctx
        self.run_dir = Path(config.out)
        self.faults = Faults.from_env()
        self.fsdp = config.parallel == "fsdp" and ctx.distributed
        self.progress_enabled = progress and ctx.is_main
        corpus = setup.open_splits(config)
        self.corpus = corpus
        self.sharding = Sharding(config.batch_size, ctx.world_size, ctx.rank, config.grad_accum)
        restarted = ctx.restart_count > 0
        self.resume_from = setup.resume_point(
            self.run_dir, resume, overwrite=overwrite, restarted=restarted, announce=ctx.is_main
        )
        # Every rank has looked at the folder before rank 0 writes into it: a rank that looked
        # after rank 0's config.toml would take the new run for an old one.
        ctx.barrier()
        if ctx.is_main:
            if overwrite and not restarted:  # a restart continues the new run, never clears it
                setup.clear_run(self.run_dir)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_config(config, self.run_dir / "config.toml")
            if self.resume_from is None:  # a fresh start: rows of a run killed before step 1
                truncate_metrics(self.run_dir, 0)
        ctx.barrier()
        self.records = RunRecords.start(self.run_dir, ctx, resume_from=self.resume_from)

        self.task, total_steps = setup.make_task(config, corpus, ctx)
        self.schedule = Schedule.of(config, total_steps)
        plain = self.task.model
        if init is not None and self.resume_from is None:
            state_io.load_model_weights(plain, Path(init) / "model" / MODEL_WEIGHTS)
        if self.resume_from is not None:
            state_io.load_model_weights(plain, self.resume_from / MODEL_WEIGHTS)
        plain.to(ctx.device)
        self.plain = plain
        self.checkpointer = Checkpointer(config, ctx, self.task, plain, fsdp=self.fsdp)
        self.model = setup.wrap(plain, config, ctx)
        self.optimizer = setup.make_optimizer(plain, config)
        self.validator = Validator(self.task, config, ctx, corpus, self.fsdp)
        self.start_step, self.elapsed_before, spent = 0, 0.0, 0.0
        if self.resume_from is not None:
            state = self.checkpointer.restore(self.resume_from, self.model, self.optimizer)
            self.start_step = int(state["step"])
            self.elapsed_before = float(state.get("elapsed_s", 0.0))
            spent = float(state.get("train_flops", 0.0))
        self.flops = FlopMeter(ctx, spent)

    # -- the loop --------------------------------------------------------------------------------

    def train(self) -> dict[str, Any]:
        cfg, ctx, schedule = self.config, self.ctx, self.schedule
        total = schedule.total_steps
        train_log = TrainLog(
            self.run_dir,
            every=cfg.log_every,
            ctx=ctx,
            tensorboard=cfg.tensorboard,
            bits_per_step=cfg.batch_size * cfg.seq_len * 8,
        )
        progress = ProgressLine(total, self.start_step, self.progress_enabled)
        t0 = time.monotonic()
        step = self.start_step
        previous_phase = self.task.phase(step - 1) if step > 0 else None
        last_ckpt = self.start_step if self.resume_from is not None else -1
        status, message, last_val = "ok", "", {}
        try:
            while step < total:
                self.faults.maybe_kill(step + 1, ctx.rank, ctx.restart_count)
                lr = schedule.lr_at(step)
                set_lr(self.optimizer, lr)
                torch.manual_seed(step_seed(cfg.seed, step, ctx.rank))
                phase = self.task.phase(step)
                measure = self.flops.should_measure(phase, previous_phase)
                previous_phase = phase
                try:
                    with self.flops.measuring(measure):
                        loss, metrics, local_flops = self._forward_backward(step)
                except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
                    if is_oom(exc):
                        raise oom_error(cfg, step + 1) from None
                    raise
                norm = self._clip()
                elapsed = self.elapsed_before + time.monotonic() - t0
                bad = not (math.isfinite(loss) and math.isfinite(norm))
                flags = ctx.all_reduce_max(
                    torch.tensor([float(bad), float(schedule.time_up(elapsed))])
                )
                if flags[0] > 0:
                    self.optimizer.zero_grad(set_to_none=True)
                    status, message = "nan", self._nan_message(step + 1)
                    break
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                step += 1
                flop_fields = self.flops.step_done(local_flops)
                train_log.add({**metrics, "loss": loss, "grad_norm": norm})
                stop = (
                    "time"
                    if flags[1] > 0
                    else ("flops" if schedule.flops_spent(self.flops.train_flops) else "")
                )
                last = step == total or bool(stop)
                remaining = schedule.remaining_s(
                    step, self.start_step, time.monotonic() - t0, elapsed
                )
                progress.update(step, phase, loss, train_log.bits_per_s(), remaining)
                if train_log.due(step, last=last, force=measure):
                    extra = self.task.log_metrics(step) if ctx.is_main else {}
                    fields = {"phase": phase, "lr": lr, **flop_fields, "elapsed_s": elapsed}
                    train_log.write_train(step, fields, extra)
                if self.validator.should_validate(step, last=last):
                    last_val = row_keys("val", self.validator.validate(self.model))
                    train_log.write_val(
                        step,
                        last_val,
                        {"train_flops": self.flops.train_flops, "elapsed_s": elapsed},
                    )
                    progress.note(val_summary(step, last_val))
                if self.checkpointer.due(step, last=last):
                    self.checkpointer.save(
                        step,
                        self.model,
                        self.optimizer,
                        schedule=schedule,
                        phase=phase,
                        elapsed_s=elapsed,
                        train_flops=self.flops.train_flops,
                    )
                    last_ckpt = step
                if stop:
                    status = stop
                    break
        finally:
            progress.close()
            train_log.close()
        result = {
            "status": status,
            "step": step,
            "total_steps": total,
            "message": message,
            "val": last_val,
            "elapsed_s": self.elapsed_before + time.monotonic() - t0,
            "train_flops": self.flops.train_flops,
            "run_dir": str(self.run_dir),
            "last_checkpoint": last_ckpt,
        }
        if status != "nan":
            self.checkpointer.finish(self.model)
            result["param_digest"] = self._param_digest()
        self.records.close(result)  # RUN/train.log (provenance.RunRecords)
        return result

    # -- one step --------------------------------------------------------------------------------

    def _forward_backward(self, step: int) -> tuple[float, dict[str, float], float]:
        """Forward and backward of this rank's micro-batches: (loss, mean metrics, FLOPs)."""
        cfg, ctx = self.config, self.ctx
        loss_sum, flops = 0.0, 0.0
        metric_sums: dict[str, float] = {}
        for micro in range(cfg.grad_accum):
            ids = self.sharding.sample_ids(step, micro)
            windows, doc_starts, index = micro_inputs(
                self.corpus.train, ids, cfg.seq_len, cfg.seed, cfg.batch_size, ctx.device
            )
            with self._sync_guard(micro == cfg.grad_accum - 1), autocast(ctx.device, cfg.precision):
                out = self.task.loss(self.model, windows, doc_starts, step=step, sample_index=index)
                loss = out.loss / cfg.grad_accum
                if self.faults.poison(step + 1):
                    loss = loss * float("nan")
                loss.backward()
            flops += out.flops
            value, metrics = host_values(loss, out.metrics)
            loss_sum += value
            for key, metric in metrics.items():
                metric_sums[key] = metric_sums.get(key, 0.0) + metric / cfg.grad_accum
        return loss_sum, metric_sums, flops

    def _sync_guard(self, sync: bool) -> contextlib.AbstractContextManager:
        """Gradients are all-reduced on the last micro-batch of a step only."""
        if self.fsdp:
            self.model.set_requires_gradient_sync(sync)
            return contextlib.nullcontext()
        if isinstance(self.model, DistributedDataParallel) and not sync:
            return self.model.no_sync()
        return contextlib.nullcontext()

    def _clip(self) -> float:
        return clip_gradients(self.plain.parameters(), self.config.grad_clip)

    def _nan_message(self, step: int) -> str:
        good = list_checkpoints(self.run_dir)
        where = (
            f"the last good checkpoint is {good[-1][1]} (step {good[-1][0]}): continue from it "
            "with --resume after lowering --set lr=..."
            if good
            else "there is no checkpoint yet: lower --set lr=... and start again"
        )
        return f"the loss became NaN or infinite at step {step}; stopped, {where}"

    def _param_digest(self) -> str:
        """sha256 of this rank's parameters (DDP keeps replicas identical; the launcher checks)."""
        if self.fsdp:
            return "sharded"
        digest = hashlib.sha256()
        for name, value in sorted(self.plain.state_dict().items()):
            digest.update(name.encode())
            digest.update(value.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def oom_error(config: TrainConfig, step: int | str) -> BittrainError:
    return BittrainError(
        OOM_HINT.format(
            step=step, batch=config.batch_size, seq=config.seq_len, accum=config.grad_accum
        )
    )
