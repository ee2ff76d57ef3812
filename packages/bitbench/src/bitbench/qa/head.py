"""The start/end span head, its training targets and the best span of a window.

The head is one linear map from a unit's final state to two logits (start, end), as in BERT's
SQuAD head. A window's candidate spans are pairs of context units i <= j whose bytes span at
most ``max_answer_bytes``; a span scores start[i] + end[j]. With no-answer questions (SQuAD 2.0)
unit 0 (the window's first unit) is the "no answer" position: its start + end logit is the
window's null score, and a question gets no answer when its lowest null score over its windows
beats its best span (Hugging Face's rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from bittrain.tasks.span_encoders import Layout
from torch import nn

NEG = -1e4  # logit of a position that cannot start or end an answer


class SpanHead(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.proj = nn.Linear(hidden_size, 2)
        nn.init.normal_(self.proj.weight, std=0.02)
        nn.init.zeros_(self.proj.bias)

    def forward(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.proj(states)  # [B, T, 2]
        return logits[..., 0], logits[..., 1]  # [B, T] each


def allowed(start: torch.Tensor, pad: torch.Tensor, no_answer: bool) -> torch.Tensor:
    """bool [B, T]: where an answer may start or end (context units; unit 0 for no answer)."""
    ok = start >= 0
    if no_answer:
        ok[:, 0] = ~pad[:, 0]
    return ok


def span_loss(
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    ok: torch.Tensor,
    targets: torch.Tensor,
) -> torch.Tensor:
    """Mean cross-entropy of the target start and end units (targets long [B, 2]) over the
    allowed units (ok bool [B, T])."""
    s = start_logits.masked_fill(~ok, NEG)
    e = end_logits.masked_fill(~ok, NEG)
    ce = nn.functional.cross_entropy
    return (ce(s, targets[:, 0]) + ce(e, targets[:, 1])) / 2


def target_units(layout: Layout, a0: int, a1: int) -> tuple[int, int] | None:
    """(first unit, last unit) covering the answer's context bytes [a0, a1) in ``layout``, or
    None when the window does not hold the whole answer. The first unit is the first context
    unit ending after a0, the last the last one starting before a1 (a token model's units may
    reach beyond the answer's edges; a tokenizer that skips bytes may leave some uncovered)."""
    ctx = layout.start >= 0
    if not ctx.any() or a0 < layout.start[ctx].min() or a1 > layout.end[ctx].max():
        return None
    first = np.flatnonzero(ctx & (layout.end > a0))
    last = np.flatnonzero(ctx & (layout.start < a1))
    if not first.size or not last.size or first[0] > last[-1]:
        return None
    return int(first[0]), int(last[-1])


@dataclass(frozen=True)
class WindowBest:
    """The best span of one window (context bytes [b0, b1)) and the window's null score."""

    score: float
    b0: int
    b1: int
    null: float


def best_spans(
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
    pad: torch.Tensor,
    max_answer_bytes: int,
) -> list[WindowBest | None]:
    """Per window of a batch (logits float [B, T]; unit byte spans long [B, T]): its best span
    (see the module doc), or None for a window without context units."""
    ctx = start >= 0  # [B, T]
    pair = start_logits.unsqueeze(2) + end_logits.unsqueeze(1)  # [B, T(start), T(end)]
    t = start.shape[1]
    order = torch.ones(t, t, dtype=torch.bool, device=start.device).triu()  # i <= j
    width = end.unsqueeze(1) - start.unsqueeze(2)  # [B, T, T] bytes from unit i to unit j
    ok = ctx.unsqueeze(2) & ctx.unsqueeze(1) & order & (width <= max_answer_bytes)
    pair = pair.masked_fill(~ok, float("-inf"))
    flat = pair.reshape(pair.shape[0], -1)
    score, index = flat.max(dim=1)  # [B]
    null = (start_logits[:, 0] + end_logits[:, 0]).masked_fill(pad[:, 0], float("inf"))
    out: list[WindowBest | None] = []
    for b in range(pair.shape[0]):
        if not bool(torch.isfinite(score[b])):
            out.append(None)
            continue
        i, j = divmod(int(index[b]), t)
        out.append(WindowBest(float(score[b]), int(start[b, i]), int(end[b, j]), float(null[b])))
    return out


def pick_answers(
    windows_of: Sequence[Sequence[WindowBest | None]], no_answer: bool
) -> list[tuple[int, int] | None]:
    """Per question, from the bests of its windows: the context bytes of the best span over all
    windows (once, however many windows hold it), or None for "no answer" (only with
    ``no_answer``: when the lowest null score beats the best span)."""
    out: list[tuple[int, int] | None] = []
    for bests in windows_of:
        found = [b for b in bests if b is not None]
        if not found:
            out.append(None)
            continue
        top = max(found, key=lambda b: b.score)
        if no_answer and min(b.null for b in found) > top.score:
            out.append(None)
        else:
            out.append((top.b0, top.b1))
    return out
