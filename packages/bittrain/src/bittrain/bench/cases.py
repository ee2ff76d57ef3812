"""What `bitlab bench train` trains: one case per model kind, built as `bitlab train` builds it
(the shipped ``tiny`` config with the case's task and preset, the registry's task, the trainer's
wrapper and optimizer), and one training step as the Trainer's loop runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bittrain.bench.stages import DATA, OPTIMIZER, TASK, bench_range
from bittrain.engine import TrainTask, autocast, build_task
from bittrain.fixtures import MICRO_BASELINES, MICRO_MODEL
from bittrain.trainer.config import TrainConfig
from bittrain.trainer.config_files import load_config
from bittrain.trainer.data import Sharding
from bittrain.trainer.dist import DistContext
from bittrain.trainer.setup import make_optimizer, task_spec, wrap
from bittrain.trainer.step import clip_gradients, host_values, micro_inputs

# The curriculum position the bench trains at: late in the run, at the rates the curriculum ends
# with (which levels mask then is the config's: `tiny` draws byte masks only).
RUN_FRACTION = 0.9


@dataclass(frozen=True)
class BenchCase:
    name: str
    kind: str  # task kind (bitswin, byte, bpe, hf-bert)
    preset: str  # model preset
    overrides: tuple[str, ...] = ()  # more `--set` overrides
    target: float | None = None  # wanted ratio of achieved FLOP/s to the matmul rate


FULL_CASES = (
    BenchCase("bitswin tiny", "bitswin", "tiny", target=0.35),
    BenchCase("bitswin base", "bitswin", "base"),
    BenchCase("byte", "byte", "tiny", target=0.3),
    BenchCase("bpe", "bpe", "tiny"),
    BenchCase("hf-bert", "hf-bert", "tiny"),
)
QUICK_CASES = (
    BenchCase("bitswin micro", "bitswin", "tiny", MICRO_MODEL),
    BenchCase("byte micro", "byte", "tiny", MICRO_BASELINES["byte"]),
)


@dataclass
class PreparedCase:
    """A case ready to step: config, task, the (maybe compiled) model and its optimizer."""

    case: BenchCase
    config: TrainConfig
    task: TrainTask
    plain: torch.nn.Module
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    split: Any  # the corpus's train split
    device: torch.device
    step: int  # the next step to train

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self.plain.parameters())

    @property
    def bytes_per_step(self) -> int:
        return self.config.batch_size * self.config.seq_len


def prepare(
    case: BenchCase,
    corpus: Any,
    corpus_path: Path,
    run_dir: Path,
    device: torch.device,
    *,
    batch_size: int,
    seq_len: int,
    compile_model: bool = False,
    precision: str = "auto",
) -> PreparedCase:
    overrides = [
        f"task={case.kind}",
        f"model_preset={case.preset}",
        f"batch_size={batch_size}",
        f"seq_len={seq_len}",
        f"compile={'true' if compile_model else 'false'}",
        f'precision="{precision}"',
        *case.overrides,
    ]
    config = load_config("tiny", overrides, corpus=str(corpus_path), out=str(run_dir))
    task = build_task(task_spec(config, corpus, total_steps=config.max_steps))
    plain = task.model.to(device)
    model = wrap(plain, config, DistContext(0, 1, 0, device, None, 0))
    optimizer = make_optimizer(plain, config)
    first = int(RUN_FRACTION * config.max_steps)
    return PreparedCase(case, config, task, plain, model, optimizer, corpus.train, device, first)


def train_step(p: PreparedCase) -> float:
    """One optimizer step as the Trainer runs it (one micro-batch, one process): windows of the
    step, the task's loss under the run's autocast, backward, the loss and metrics to the host,
    clipping, AdamW. Returns the task's FLOPs of the step; waits for the device."""
    cfg, step = p.config, p.step
    with bench_range(DATA):
        ids = Sharding(cfg.batch_size, 1, 0, 1).sample_ids(step, 0)
        windows, doc_starts, index = micro_inputs(
            p.split, ids, cfg.seq_len, cfg.seed, cfg.batch_size, p.device
        )
    with autocast(p.device, cfg.precision):
        with bench_range(TASK):
            out = p.task.loss(p.model, windows, doc_starts, step=step, sample_index=index)
        out.loss.backward()
    host_values(out.loss, out.metrics)
    with bench_range(OPTIMIZER):
        clip_gradients(p.plain.parameters(), cfg.grad_clip)
        p.optimizer.step()
        p.optimizer.zero_grad(set_to_none=True)
    if p.device.type == "cuda":
        torch.cuda.synchronize(p.device)
    p.step += 1
    return float(out.flops)
