"""Probe mode: the frozen encoder's states of the training windows, computed once, and a
start/end head fitted on them (full-batch L-BFGS on the mean cross-entropy plus a small L2,
deterministic for a seed)."""

from __future__ import annotations

import numpy as np
import torch
from bittrain.tasks.span_encoders import SpanEncoder

from bitbench.qa.batches import Progress, TrainingSet, batches, states
from bitbench.qa.head import NEG, SpanHead, allowed

PROBE_L2 = 1e-4


@torch.no_grad()
def cache_states(
    encoder: SpanEncoder, train: TrainingSet, batch_size: int, progress: Progress | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(states float32 [W, T, D] on the CPU, allowed units bool [W, T], targets long [W, 2]) of
    the training windows, padded to the longest (a frozen encoder is run once per window)."""
    width = max([len(x) for x in train.layouts] + [1])
    n = len(train.layouts)
    out = torch.zeros(n, width, encoder.hidden_size)
    ok = torch.zeros(n, width, dtype=torch.bool)
    for sl in batches(n, batch_size):
        hidden, batch = states(encoder, train.layouts[sl])
        t = hidden.shape[1]
        out[sl, :t] = hidden.cpu()
        ok[sl, :t] = allowed(batch["start"], batch["pad"], False).cpu()
        if progress is not None:
            progress("probe: encoding training windows", sl.stop, n)
    return out, ok, torch.from_numpy(train.targets)


def fit_probe_head(
    cached: torch.Tensor,
    ok: torch.Tensor,
    targets: torch.Tensor,
    *,
    no_answer: bool,
    iterations: int,
    seed: int,
) -> tuple[SpanHead, float]:
    """A SpanHead fitted on cached states [W, T, D]; returns it (on the CPU) and its final
    training loss."""
    torch.manual_seed(seed)
    head = SpanHead(cached.shape[-1])
    if no_answer:
        ok = ok.clone()
        ok[:, 0] = True
    if not len(targets):
        return head, float("nan")
    optimizer = torch.optim.LBFGS(
        head.parameters(), lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe"
    )
    log_softmax = torch.nn.functional.log_softmax

    def objective() -> torch.Tensor:
        s, e = head(cached)  # [W, T] each
        rows = torch.arange(len(targets))
        ls = log_softmax(s.masked_fill(~ok, NEG), dim=1)[rows, targets[:, 0]]
        le = log_softmax(e.masked_fill(~ok, NEG), dim=1)[rows, targets[:, 1]]
        return -(ls + le).mean() / 2 + PROBE_L2 * head.proj.weight.pow(2).sum()

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        final = float(objective())
    return head.eval(), final if np.isfinite(final) else float("nan")
