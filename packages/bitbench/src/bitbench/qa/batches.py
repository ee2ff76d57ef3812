"""Windows through a span encoder: their layouts, training targets, and batches of states."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from bittrain.tasks.span_encoders import Layout, SpanEncoder, pad_layouts

from bitbench.qa.head import target_units
from bitbench.qa.windows import QAWindow

Progress = Callable[[str, int, int], None]
LAYOUT_CHUNK = 256  # windows tokenised per call


def layouts_of(
    encoder: SpanEncoder, windows: Sequence[QAWindow], contexts: Sequence[bytes]
) -> list[Layout]:
    out: list[Layout] = []
    for start in range(0, len(windows), LAYOUT_CHUNK):
        chunk = windows[start : start + LAYOUT_CHUNK]
        out += encoder.layout([w.pair(contexts[w.example]) for w in chunk])
    return out


@dataclass(frozen=True)
class TrainingSet:
    """The training windows of a mode and their target units (long [W, 2]; (0, 0) is "no
    answer")."""

    windows: list[QAWindow]
    layouts: list[Layout]
    targets: np.ndarray


def training_set(
    windows: Sequence[QAWindow],
    layouts: Sequence[Layout],
    answer_bytes: Sequence[tuple[int, int] | None],
    no_answer: bool,
) -> TrainingSet:
    """Windows that hold their question's whole answer (target: its first and last unit);
    with ``no_answer`` also the windows of unanswerable questions and the windows that miss the
    answer (target: unit 0, as BERT's SQuAD 2.0 recipe trains [CLS]). ``answer_bytes``: per
    example, the located answer's context bytes, or None (unanswerable)."""
    keep_w, keep_l, targets = [], [], []
    for w, layout in zip(windows, layouts, strict=True):
        span = answer_bytes[w.example]
        units = None if span is None else target_units(layout, *span)
        if units is None and not no_answer:
            continue
        keep_w.append(w)
        keep_l.append(layout)
        targets.append(units if units is not None else (0, 0))
    return TrainingSet(keep_w, keep_l, np.asarray(targets, dtype=np.int64).reshape(-1, 2))


def batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def states(
    encoder: SpanEncoder, layouts: Sequence[Layout]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(float32 states [B, T, D] on the encoder's device, the padded batch tensors there)."""
    batch = {k: v.to(encoder.device) for k, v in pad_layouts(layouts, encoder.pad_id).items()}
    return encoder.hidden(batch["ids"], batch["pad"]), batch
