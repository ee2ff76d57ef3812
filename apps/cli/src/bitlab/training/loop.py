"""The training loop that every worker runs (one process, DDP or FSDP2).

Reproducibility: step ``s`` (0-based) trains on windows that are a pure function of
(seed, s, sample) (``data.py``), masks that are a pure function of (seed, s, sample) (bitmask),
the learning rate ``lr_at(s)``, and torch's RNG reseeded from (seed, s, rank) before the step
(dropout). A checkpoint after ``s`` steps holds the model, the optimizer moments and the task
state; resuming from it repeats exactly what the uninterrupted run would have done.

Step numbers in logs, metrics and checkpoint names count optimizer steps *done* (1-based).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bitlab.errors import UserError
from bitlab.provenance import RunRecords
from bitlab.training import state_io
from bitlab.training.bitswin_task import make_task, unwrap
from bitlab.training.checkpoint import (
    STATE_FILE,
    latest_checkpoint,
    list_checkpoints,
    read_json,
    remove_checkpoints_after,
    write_checkpoint,
    write_json_atomic,
)
from bitlab.training.config import TrainConfig, write_config
from bitlab.training.data import Sharding, check_split_size, draw_windows, eval_windows
from bitlab.training.dist import DistContext
from bitlab.training.faults import Faults
from bitlab.training.metrics_log import MetricsLog, truncate_metrics
from bitlab.training.progress import ProgressLine, val_summary
from bitlab.training.schedule import lr_at, set_lr

log = logging.getLogger(__name__)

OOM_HINT = (
    "out of memory at step {step}: lower --set batch_size=... (now {batch}) or seq_len=... "
    "(now {seq}), or raise grad_accum (now {accum}) to keep the global batch with smaller "
    "micro-batches"
)


def step_seed(seed: int, step: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1, np.uint64)[0] >> 1)


def open_splits(config: TrainConfig):
    from bitcodec.corpus_reader import open_corpus

    if not config.corpus:
        raise UserError("no corpus given: pass --corpus STORE (made with `bitlab prepare-corpus`)")
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
        raise UserError("no run directory given: pass --out RUN")
    ckpt = latest_checkpoint(run_dir)
    if resume or restarted:
        if ckpt is None and resume and not restarted:
            raise UserError(
                f"--resume: run directory '{run_dir}' has no checkpoint yet: start the run "
                "without --resume"
            )
        return ckpt
    if ckpt is not None:
        raise UserError(
            f"run directory '{run_dir}' already holds a run (checkpoint {ckpt.name}): continue it "
            "with --resume, or choose another --out"
        )
    return None


def _decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        ctx: DistContext,
        *,
        resume: bool,
        init: str | None,
        progress: bool,
    ) -> None:
        self.config = config
        self.ctx = ctx
        self.run_dir = Path(config.out)
        self.faults = Faults.from_env()
        self.fsdp = config.parallel == "fsdp" and ctx.distributed
        self.progress_enabled = progress and ctx.is_main
        self.corpus = open_splits(config)
        self.sharding = Sharding(config.batch_size, ctx.world_size, ctx.rank, config.grad_accum)
        self.start_step = 0
        self.elapsed_before = 0.0
        self.resume_from = self._resume_point(resume)
        if ctx.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_config(config, self.run_dir / "config.toml")
            if self.resume_from is None:  # a fresh start: rows of a run killed before step 1
                truncate_metrics(self.run_dir, 0)
        ctx.barrier()
        self.records = RunRecords.start(self.run_dir, ctx, resume_from=self.resume_from)

        model_config = dict(config.model_config)
        if config.model != "bitswin":
            model_config.setdefault("preset", config.model_preset)
        self.task = make_task(
            config.model,
            model_config,
            train_split=self.corpus.train,
            run_dir=self.run_dir,
            seed=config.seed,
            total_steps=config.max_steps,
            train_config=config,
        )
        plain = self.task.model
        if init is not None and self.resume_from is None:
            state_io.load_model_weights(plain, Path(init) / "model" / state_io.MODEL_WEIGHTS)
        if self.resume_from is not None:
            state_io.load_model_weights(plain, self.resume_from / state_io.MODEL_WEIGHTS)
        plain.to(ctx.device)
        self.plain = plain
        self.shadow = copy.deepcopy(plain).to("cpu") if self.fsdp and ctx.is_main else None
        self.model = self._wrap(plain)
        self.optimizer = torch.optim.AdamW(
            _decay_groups(plain, config.weight_decay),
            lr=config.lr,
            betas=(config.adam_beta1, config.adam_beta2),
        )
        if self.resume_from is not None:
            self._restore(self.resume_from)

    # -- setup ---------------------------------------------------------------------------------

    def _resume_point(self, resume: bool) -> Path | None:
        return resume_point(self.run_dir, resume, restarted=self.ctx.restart_count > 0)

    def _wrap(self, plain: torch.nn.Module) -> torch.nn.Module:
        if self.config.compile:
            plain.compile()
        if not self.ctx.distributed:
            return plain
        if self.fsdp:
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.fsdp import fully_shard
            from torch.distributed.tensor import DTensor

            mesh = init_device_mesh(self.ctx.device.type, (self.ctx.world_size,))
            # Shard the members of the outermost module lists (stages, blocks) one by one, so
            # that only one unit's parameters are gathered at a time, then the rest at the root.
            for module in list(plain.modules()):
                if isinstance(module, torch.nn.ModuleList):
                    for child in module:
                        params = list(child.parameters())
                        if params and not any(isinstance(p, DTensor) for p in params):
                            fully_shard(child, mesh=mesh)
            fully_shard(plain, mesh=mesh)
            return plain
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.ctx.local_rank] if self.ctx.device.type == "cuda" else None
        return DistributedDataParallel(plain, device_ids=ids)

    def _restore(self, ckpt: Path) -> None:
        state = read_json(ckpt / STATE_FILE)
        self.start_step = int(state["step"])
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        state_io.load_optimizer(ckpt, self.model, self.optimizer, self.fsdp)
        state_io.restore_rng(ckpt, self.ctx.rank)
        load_state = getattr(self.task, "load_state", None)
        if load_state is not None:
            load_state(ckpt / "task")
        if self.ctx.is_main:
            remove_checkpoints_after(self.run_dir, self.start_step)
            truncate_metrics(self.run_dir, self.start_step)

    # -- collectives over metrics ----------------------------------------------------------------

    def _mean_over_ranks(self, metrics: dict[str, float]) -> dict[str, float]:
        if not self.ctx.distributed or not metrics:
            return metrics
        keys = sorted(metrics)
        values = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64)
        values = self.ctx.all_reduce_sum(values).cpu() / self.ctx.world_size
        return dict(zip(keys, values.tolist(), strict=True))

    # -- the loop --------------------------------------------------------------------------------

    def train(self) -> dict[str, Any]:
        cfg, ctx = self.config, self.ctx
        total = cfg.max_steps
        metrics_log = MetricsLog(self.run_dir) if ctx.is_main else None
        board = self._tensorboard() if ctx.is_main and cfg.tensorboard else None
        progress = ProgressLine(total, self.start_step, self.progress_enabled)
        val_w, val_d = self._val_windows()
        t0 = time.monotonic()
        interval_t0, interval_steps = t0, 0
        sums: dict[str, float] = {}
        sum_count = 0
        step = self.start_step
        last_ckpt = self.start_step if self.resume_from is not None else -1
        status, message, last_val = "ok", "", {}
        bits_per_step = cfg.batch_size * cfg.seq_len * 8
        try:
            while step < total:
                self.faults.maybe_kill(step + 1, ctx.rank, ctx.restart_count)
                lr = lr_at(
                    step,
                    lr=cfg.lr,
                    warmup_steps=cfg.warmup_steps,
                    max_steps=total,
                    min_lr_ratio=cfg.min_lr_ratio,
                )
                set_lr(self.optimizer, lr)
                torch.manual_seed(step_seed(cfg.seed, step, ctx.rank))
                try:
                    loss_sum, step_metrics, phase, windows, doc_starts = self._forward_backward(
                        step
                    )
                except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
                    if is_oom(exc):
                        raise oom_error(cfg, step + 1) from None
                    raise
                norm = self._clip()
                elapsed = self.elapsed_before + time.monotonic() - t0
                time_up = cfg.max_minutes > 0 and elapsed >= cfg.max_minutes * 60.0
                bad = not (math.isfinite(loss_sum) and math.isfinite(norm))
                flags = ctx.all_reduce_max(torch.tensor([float(bad), float(time_up)]))
                if flags[0] > 0:
                    self.optimizer.zero_grad(set_to_none=True)
                    status = "nan"
                    good = list_checkpoints(self.run_dir)
                    where = (
                        f"the last good checkpoint is {good[-1][1]} (step {good[-1][0]}): "
                        "continue from it with --resume after lowering --set lr=..."
                        if good
                        else "there is no checkpoint yet: lower --set lr=... and start again"
                    )
                    message = (
                        f"the loss became NaN or infinite at step {step + 1}; stopped, {where}"
                    )
                    break
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                step += 1
                interval_steps += 1
                hook = getattr(self.task, "after_step", None)
                extra = hook(self.model, step, windows, doc_starts, ctx.is_main) if hook else {}
                for key, value in {**step_metrics, "loss": loss_sum, "grad_norm": norm}.items():
                    sums[key] = sums.get(key, 0.0) + value
                sum_count += 1
                now = time.monotonic()
                rate = bits_per_step * interval_steps / max(now - interval_t0, 1e-9)
                remaining = (total - step) * (now - t0) / max(step - self.start_step, 1)
                if cfg.max_minutes > 0:
                    remaining = min(remaining, cfg.max_minutes * 60.0 - elapsed)
                progress.update(step, phase, loss_sum, rate, remaining)
                last = step == total or flags[1] > 0
                if step % cfg.log_every == 0 or last:
                    row = self._mean_over_ranks({k: v / sum_count for k, v in sums.items()})
                    row = {
                        "kind": "train",
                        "step": step,
                        "phase": phase,
                        "lr": lr,
                        **row,
                        **extra,
                        "bits_per_s": rate,
                        "elapsed_s": elapsed,
                    }
                    if metrics_log is not None:
                        metrics_log.write(row)
                    if board is not None:
                        for key, value in row.items():
                            if isinstance(value, (int, float)) and key not in ("step", "kind"):
                                board.add_scalar(f"train/{key}", value, step)
                    sums, sum_count = {}, 0
                    interval_t0, interval_steps = time.monotonic(), 0
                if (cfg.eval_every and step % cfg.eval_every == 0) or last:
                    last_val = self._validate(val_w, val_d)
                    if metrics_log is not None:
                        metrics_log.write(
                            {"kind": "val", "step": step, **last_val, "elapsed_s": elapsed}
                        )
                    if board is not None:
                        for key, value in last_val.items():
                            board.add_scalar(f"val/{key}", value, step)
                    progress.note(val_summary(step, last_val))
                if step % cfg.checkpoint_every == 0 or last:
                    self._checkpoint(step, phase, elapsed)
                    last_ckpt = step
                if flags[1] > 0:
                    status = "time"
                    break
        finally:
            progress.close()
            if metrics_log is not None:
                metrics_log.close()
            if board is not None:
                board.close()
        elapsed = self.elapsed_before + time.monotonic() - t0
        result = {
            "status": status,
            "step": step,
            "message": message,
            "val": last_val,
            "elapsed_s": elapsed,
            "run_dir": str(self.run_dir),
            "last_checkpoint": last_ckpt,
        }
        if status != "nan":
            self._finish()
            result["param_digest"] = self._param_digest()
        self.records.close(result)  # RUN/train.log (provenance.RunRecords)
        return result

    def _param_digest(self) -> str:
        """sha256 of this rank's parameters (DDP keeps replicas identical; the launcher checks)."""
        import hashlib

        if self.fsdp:
            return "sharded"
        digest = hashlib.sha256()
        for name, value in sorted(self.plain.state_dict().items()):
            digest.update(name.encode())
            digest.update(value.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()

    def _forward_backward(self, step: int):
        cfg, ctx = self.config, self.ctx
        loss_sum = 0.0
        metric_sums: dict[str, float] = {}
        phase = 1
        windows = doc_starts = None
        for micro in range(cfg.grad_accum):
            ids = self.sharding.sample_ids(step, micro)
            w, d = draw_windows(self.corpus.train, ids, cfg.seq_len, cfg.seed, cfg.batch_size)
            windows = torch.from_numpy(w).to(ctx.device)  # uint8 [b, L]
            doc_starts = torch.from_numpy(d).to(ctx.device)  # bool [b, L]
            index = torch.from_numpy(ids).to(ctx.device)  # long [b]
            sync = micro == cfg.grad_accum - 1
            no_sync = getattr(self.model, "no_sync", None)
            guard = no_sync() if (no_sync is not None and not sync) else contextlib.nullcontext()
            if self.fsdp:
                self.model.set_requires_gradient_sync(sync)
            with guard:
                out = self.task.loss(self.model, windows, doc_starts, step=step, sample_index=index)
                loss = out.loss / cfg.grad_accum
                if self.faults.poison(step + 1):
                    loss = loss * float("nan")
                loss.backward()
            phase = int(out.phase)
            # One device->host copy per micro-batch for the loss and all metrics (no sync each).
            keys = sorted(out.metrics)
            values = [loss.detach().float().reshape(())]
            values += [
                torch.as_tensor(out.metrics[k], dtype=torch.float32, device=loss.device).reshape(())
                for k in keys
            ]
            host = torch.stack(values).cpu().tolist()
            loss_sum += host[0]
            for key, value in zip(keys, host[1:], strict=True):
                metric_sums[key] = metric_sums.get(key, 0.0) + value / cfg.grad_accum
        return loss_sum, metric_sums, phase, windows, doc_starts

    def _clip(self) -> float:
        max_norm = self.config.grad_clip if self.config.grad_clip > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.plain.parameters(), max_norm)
        if hasattr(norm, "full_tensor"):  # FSDP2: a DTensor
            norm = norm.full_tensor()
        return float(norm)

    # -- validation ------------------------------------------------------------------------------

    def _val_windows(self) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        w, d = eval_windows(self.corpus.val, cfg.eval_windows, cfg.seq_len, cfg.eval_seed)
        return torch.from_numpy(w).to(self.ctx.device), torch.from_numpy(d).to(self.ctx.device)

    def _validate(self, w: torch.Tensor, d: torch.Tensor) -> dict[str, float]:
        if self.fsdp:
            # Every rank must take part in the sharded forward: all run the same windows, so
            # the metrics are exactly those of one process (no averaging of shard means).
            return self.task.validate(self.model, w, d)
        result = self.task.validate(unwrap(self.model), w, d) if self.ctx.is_main else None
        return self.ctx.broadcast_object(result)

    # -- checkpoints -----------------------------------------------------------------------------

    def _checkpoint(self, step: int, phase: int, elapsed: float) -> None:
        ctx, cfg = self.ctx, self.config
        model_state = state_io.full_model_state(self.model, self.plain, self.fsdp)
        optim_state = state_io.full_optimizer_state(self.model, self.optimizer, self.fsdp)
        rngs = ctx.gather_objects(state_io.rng_state())
        curriculum = getattr(self.task, "curriculum_state", None)
        trainer_state = {
            "format": 1,
            "step": step,
            "phase": phase,
            "elapsed_s": elapsed,
            "world_size": ctx.world_size,
            "data": {
                "next_step": step,
                "samples_seen": step * cfg.batch_size,
                "scheme": "sample i of step s drawn with numpy rng (seed, s, i)",
            },
            "scheduler": {
                "kind": "warmup+cosine",
                "step": step,
                "next_lr": lr_at(
                    step,
                    lr=cfg.lr,
                    warmup_steps=cfg.warmup_steps,
                    max_steps=cfg.max_steps,
                    min_lr_ratio=cfg.min_lr_ratio,
                ),
            },
            "curriculum": curriculum(step) if curriculum is not None else None,
        }

        def fill(directory: Path) -> None:
            self._save_model(directory, model_state)
            state_io.save_optimizer(directory, optim_state)
            state_io.save_rng(directory, rngs)
            save_state = getattr(self.task, "save_state", None)
            if save_state is not None:
                save_state(directory / "task")
            write_config(cfg, directory / "config.toml")
            write_json_atomic(directory / STATE_FILE, trainer_state)

        if ctx.is_main:
            write_checkpoint(self.run_dir, step, fill, cfg.keep_checkpoints)
        ctx.barrier()

    def _save_model(self, directory: Path, model_state: dict[str, Any]) -> None:
        if self.fsdp:
            assert self.shadow is not None
            self.shadow.load_state_dict(model_state)
            self.task.save_pretrained(self.shadow, directory)
        else:
            self.task.save_pretrained(self.plain, directory)

    def _finish(self) -> None:
        model_state = state_io.full_model_state(self.model, self.plain, self.fsdp)
        if self.ctx.is_main:
            import shutil
            import uuid

            target = self.run_dir / "model"
            tmp = self.run_dir / f".model.tmp-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            self._save_model(tmp, model_state)
            old = self.run_dir / f".model.old-{uuid.uuid4().hex[:8]}"
            if target.exists():
                target.rename(old)
            tmp.rename(target)  # a reader sees the old model or the new one, never half of one
            shutil.rmtree(old, ignore_errors=True)
            finalize = getattr(self.task, "finalize", None)
            if finalize is not None:
                finalize(self.run_dir)
            from bitlab.training.plots import write_plots

            write_plots(self.run_dir)
        self.ctx.barrier()

    def _tensorboard(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.warning("tensorboard is not installed (pip install 'bitlab[tensorboard]'): skipped")
            return None
        return SummaryWriter(str(self.run_dir / "tensorboard"))


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def oom_error(config: TrainConfig, step: int | str) -> UserError:
    return UserError(
        OOM_HINT.format(
            step=step, batch=config.batch_size, seq=config.seq_len, accum=config.grad_accum
        )
    )
