"""Cloze mode: no head. The answer is hidden in its context (question prepended), the masked LM
fills it, and the filled text is scored. It is a *known-length* cloze: a byte model is shown one
mask per answer byte, a token model one [MASK] per answer token (the context tokenised with
cuts at the answer's edges, as the evaluation protocols cut at span edges).

The filling rule is bitlab fill's: ``steps`` rounds, each committing the most confident of the
remaining holes (``ceil(remaining / rounds left)`` of them) and running the model again with
them shown. Byte models commit through ``bitbench.fill.commit_round`` itself (one at a time,
each byte restricted to what keeps the text valid UTF-8); token models through
``commit_tokens`` here, the same rule over token ids (tokens that stand for no bytes, the
specials, are never chosen). The questions of a batch are filled together: one forward per
round for all of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from bittrain.tasks.span_encoders import HasByteCloze, HasTokenCloze, SpanEncoder

from bitbench.errors import BitbenchError
from bitbench.fill import commit_round
from bitbench.qa.batches import Progress, batches
from bitbench.qa.split import QAExample
from bitbench.qa.windows import SEPARATOR, ContextBytes, WindowSettings, question_bytes


@dataclass
class ClozeInput:
    """One question's cloze: unit ids int64 [T] (bytes or tokens; changed as holes are filled)
    and the holes bool [T] (the answer's units; True while still hidden)."""

    ids: np.ndarray
    holes: np.ndarray
    answer: np.ndarray  # bool [T]: the answer's units (fixed)


def cloze_window(ctx: ContextBytes, a0: int, a1: int, piece: int) -> tuple[int, int]:
    """Context bytes [b0, b1) around the answer [a0, a1): the answer centred in ``piece``
    bytes (at least the whole answer), at character boundaries."""
    n = len(ctx.data)
    b0 = ctx.floor(max(0, a0 - max(0, piece - (a1 - a0)) // 2))
    b1 = max(a1, ctx.floor(min(n, b0 + piece)) if b0 + piece < n else n)
    if b1 - b0 < piece and b0 > 0:
        b0 = ctx.floor(max(0, b1 - piece))
        b0 = b0 if b0 <= a0 else ctx.floor(a0)
    return b0, b1


def cloze_input(
    encoder: SpanEncoder, ex: QAExample, ctx: ContextBytes, settings: WindowSettings
) -> ClozeInput | None:
    """The cloze of one question (None when it has no located answer: it is not asked)."""
    gold = ex.located
    if gold is None or ex.impossible:
        return None
    q = question_bytes(ex.question, settings.max_question_bytes)
    a0, a1 = ctx.byte_span(gold.start, gold.end)
    b0, b1 = cloze_window(ctx, a0, a1, settings.length - len(q) - len(SEPARATOR))
    if isinstance(encoder, HasTokenCloze):
        pieces = [q, ctx.data[b0:a0], ctx.data[a0:a1], ctx.data[a1:b1]]
        ids, answer = encoder.cloze_ids(pieces, 2)
    else:
        data = q + SEPARATOR + ctx.data[b0:b1]
        ids = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
        answer = np.zeros(ids.size, dtype=bool)
        at = len(q) + len(SEPARATOR) + a0 - b0
        answer[at : at + a1 - a0] = True
        ids[answer] = 0  # the answer's bytes are never shown: not even kept in the input
    return ClozeInput(ids, answer.copy(), answer)


def commit_tokens(item: ClozeInput, logp: torch.Tensor, quota: int, special: Sequence[int]) -> None:
    """Commit the ``quota`` most confident hidden tokens of ``item`` from log-probabilities
    [holes, V] (one row per hidden token, in position order)."""
    logp = logp.clone()
    logp[:, list(special)] = float("-inf")
    best, choice = logp.max(dim=1)  # [holes]
    positions = np.flatnonzero(item.holes)
    for k in torch.argsort(best, descending=True, stable=True)[:quota].tolist():
        item.ids[positions[k]] = int(choice[k])
        item.holes[positions[k]] = False


def _padded(
    items: Sequence[ClozeInput], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids long [B, T] padded with ``pad_id``, pad bool [B, T], holes bool [B, T])."""
    width = max(it.ids.size for it in items)
    ids = np.full((len(items), width), pad_id, dtype=np.int64)
    pad = np.ones((len(items), width), dtype=bool)
    holes = np.zeros((len(items), width), dtype=bool)
    for row, it in enumerate(items):
        ids[row, : it.ids.size], pad[row, : it.ids.size] = it.ids, False
        holes[row, : it.ids.size] = it.holes
    return torch.from_numpy(ids), torch.from_numpy(pad), torch.from_numpy(holes)


@torch.no_grad()
def fill_batch(encoder: SpanEncoder, items: Sequence[ClozeInput], steps: int) -> None:
    """Fill the holes of ``items`` in place, ``steps`` rounds each (see the module doc)."""
    rounds = [min(steps, int(it.holes.sum())) for it in items]
    special: list[int] | None = None
    for r in range(max(rounds, default=0)):
        active = [i for i, n in enumerate(rounds) if r < n]
        quotas = [math.ceil(int(items[i].holes.sum()) / (rounds[i] - r)) for i in active]
        ids, pad, holes = _padded([items[i] for i in active], encoder.pad_id)
        if isinstance(encoder, HasByteCloze):
            logp = encoder.mask_log_probs(ids, pad, holes).cpu()  # [B, T, 256]
            for row, (i, quota) in enumerate(zip(active, quotas, strict=True)):
                item = items[i]
                data = item.ids.astype(np.uint8)
                probs = logp[row, : item.ids.size].double().exp().numpy()
                commit_round(data, item.holes, probs, quota)
                item.ids[:] = data
        elif isinstance(encoder, HasTokenCloze):
            shown = ids.masked_fill(holes, encoder.mask_id)
            logp = torch.log_softmax(encoder.mask_logits(shown, pad, holes), -1).cpu()
            if special is None:
                special = [v for v in range(logp.shape[1]) if not encoder.token_bytes(v)]
            rows = holes.sum(dim=1).tolist()  # hidden tokens per row, row-major in logp
            for part, i, quota in zip(logp.split(rows), active, quotas, strict=True):
                commit_tokens(items[i], part, quota, special)
        else:
            raise BitbenchError("this model has no masked-LM head to fill a cloze with")


def answer_text(encoder: SpanEncoder, item: ClozeInput) -> str:
    ids = item.ids[item.answer]
    if isinstance(encoder, HasTokenCloze):
        data = b"".join(encoder.token_bytes(int(i)) for i in ids)
    else:
        data = ids.astype(np.uint8).tobytes()
    return data.decode("utf-8", errors="replace")


def cloze_answers(
    encoder: SpanEncoder,
    examples: Sequence[QAExample],
    contexts: Sequence[ContextBytes],
    settings: WindowSettings,
    *,
    steps: int,
    batch_size: int = 16,
    progress: Progress | None = None,
) -> list[str | None]:
    """The filled answer of each example with a located answer (None for the others: they are
    not asked)."""
    if steps < 1:
        raise BitbenchError(f"--cloze-steps is {steps}: use 1 (all at once) or more rounds")
    if not isinstance(encoder, HasByteCloze | HasTokenCloze):
        raise BitbenchError("this model has no masked-LM head to fill a cloze with")
    inputs = [
        cloze_input(encoder, ex, c, settings) for ex, c in zip(examples, contexts, strict=True)
    ]
    asked = [i for i, x in enumerate(inputs) if x is not None]
    out: list[str | None] = [None] * len(inputs)
    for sl in batches(len(asked), batch_size):
        items = [x for x in (inputs[i] for i in asked[sl]) if x is not None]
        fill_batch(encoder, items, steps)
        for i, item in zip(asked[sl], items, strict=True):
            out[i] = answer_text(encoder, item)
        if progress is not None:
            progress("cloze: filling answers", sl.stop, len(asked))
    return out
