"""Fine-tune mode: the encoder and a fresh start/end head trained together on the training
windows (AdamW, the encoder at a small learning rate and the head at a larger one, linear decay
to zero, gradient norm clipped at 1, a few epochs, windows shuffled by the seed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from bittrain.tasks.span_encoders import SpanEncoder

from bitbench.qa.batches import Progress, TrainingSet, batches, states
from bitbench.qa.head import SpanHead, allowed, span_loss


@dataclass(frozen=True)
class FinetuneSettings:
    epochs: int = 2
    encoder_lr: float = 1e-4
    head_lr: float = 1e-3
    batch_size: int = 16
    weight_decay: float = 0.01


def finetune(
    encoder: SpanEncoder,
    train: TrainingSet,
    settings: FinetuneSettings,
    *,
    no_answer: bool,
    seed: int,
    progress: Progress | None = None,
) -> tuple[SpanHead, float]:
    """Trains ``encoder.module`` in place and a new head; returns the head (on the encoder's
    device, eval mode) and the mean loss of the last epoch. The module is left in eval mode."""
    torch.manual_seed(seed)
    head = SpanHead(encoder.hidden_size).to(encoder.device)
    n = len(train.layouts)
    steps = settings.epochs * -(-n // settings.batch_size)
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in encoder.module.parameters() if p.requires_grad],
             "lr": settings.encoder_lr},
            {"params": list(head.parameters()), "lr": settings.head_lr},
        ],
        weight_decay=settings.weight_decay,
    )  # fmt: skip
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1.0 - step / max(steps, 1))
    )
    rng = np.random.default_rng(seed)
    targets = torch.from_numpy(train.targets)
    encoder.module.train()
    last_losses: list[float] = []
    done = 0
    try:
        for _ in range(settings.epochs):
            order = rng.permutation(n)
            last_losses = []
            for sl in batches(n, settings.batch_size):
                rows = order[sl]
                hidden, batch = states(encoder, [train.layouts[i] for i in rows])
                s, e = head(hidden)
                ok = allowed(batch["start"], batch["pad"], no_answer)
                loss = span_loss(s, e, ok, targets[rows].to(encoder.device))
                optimizer.zero_grad()
                loss.backward()
                params = [p for g in optimizer.param_groups for p in g["params"]]
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                schedule.step()
                last_losses.append(float(loss.detach()))
                done += 1
                if progress is not None:
                    progress("finetune: training", done, steps)
    finally:
        encoder.module.eval()
    return head.eval(), float(np.mean(last_losses)) if last_losses else float("nan")
