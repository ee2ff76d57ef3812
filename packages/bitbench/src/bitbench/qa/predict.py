"""Answers of the span modes (probe, fine-tune): every test window through the encoder and the
head, the best span of each window, the best over each question's windows, mapped back to the
exact characters of the context."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from bittrain.tasks.span_encoders import SpanEncoder

from bitbench.qa.batches import Progress, batches, layouts_of, states
from bitbench.qa.head import SpanHead, WindowBest, best_spans, pick_answers
from bitbench.qa.windows import ContextBytes, QAWindow


@torch.no_grad()
def predict_spans(
    encoder: SpanEncoder,
    head: SpanHead,
    windows: Sequence[QAWindow],
    contexts: Sequence[ContextBytes],
    *,
    max_answer_bytes: int,
    no_answer: bool,
    batch_size: int,
    progress: Progress | None = None,
    stage: str = "answering",
) -> list[str]:
    """The answer text of each example (``contexts[i]`` is example i's context; "" = no
    answer)."""
    head = head.to(encoder.device).eval()
    data = [c.data for c in contexts]
    per_example: list[list[WindowBest | None]] = [[] for _ in contexts]
    layouts = layouts_of(encoder, windows, data)
    for sl in batches(len(windows), batch_size):
        hidden, batch = states(encoder, layouts[sl])
        s, e = head(hidden)
        found = best_spans(s, e, batch["start"], batch["end"], batch["pad"], max_answer_bytes)
        for w, best in zip(windows[sl], found, strict=True):
            per_example[w.example].append(best)
        if progress is not None:
            progress(stage, sl.stop, len(windows))
    answers = []
    for ctx, picked in zip(contexts, pick_answers(per_example, no_answer), strict=True):
        if picked is None:
            answers.append("")
        else:
            c0, c1 = ctx.chars(*picked)
            answers.append(ctx.text[c0:c1])
    return answers
