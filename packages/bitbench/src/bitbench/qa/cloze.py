"""Cloze mode: no head. The answer is hidden in its context (question prepended), the masked LM
fills it, and the filled text is scored. It is a *known-length* cloze: a byte model is shown one
mask per answer byte, a token model one [MASK] per answer token (the context tokenised with
cuts at the answer's edges, as the evaluation protocols cut at span edges).

The filling rule is bitlab fill's (bitbench.fill): ``steps`` rounds, each committing the most
confident of the remaining holes (``ceil(remaining / rounds left)``) and running the model again
with them shown. Byte models go through ``bitbench.fill.fill_text`` itself (with its UTF-8
constraint); token models through ``fill_tokens`` here, the same rule over token ids (special
tokens are never chosen).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from bitbench.errors import BitbenchError
from bitbench.fill import fill_text
from bitbench.qa.batches import Progress
from bitbench.qa.encoders import HasTokenCloze, SpanEncoder
from bitbench.qa.split import QAExample
from bitbench.qa.windows import SEPARATOR, ContextBytes, WindowSettings, question_bytes

PRIVATE_USE = range(0xE000, 0xF900)


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


def _hole_char(text: str) -> str:
    for cp in PRIVATE_USE:
        if chr(cp) not in text:
            return chr(cp)
    raise BitbenchError("the text uses every private-use character: cannot mark holes")


@torch.no_grad()
def fill_tokens(encoder: HasTokenCloze, ids: np.ndarray, hidden: np.ndarray, steps: int) -> bytes:
    """The bytes of the hidden tokens of ``ids`` filled by the model (see the module doc)."""
    ids = ids.copy()
    remaining = hidden.copy()
    rounds = min(steps, int(hidden.sum()))
    pad = torch.zeros(1, ids.size, dtype=torch.bool)
    for r in range(rounds):
        quota = math.ceil(int(remaining.sum()) / (rounds - r))
        shown = torch.from_numpy(np.where(remaining, encoder.mask_id, ids))[None]
        logits = encoder.mask_logits(shown, pad, torch.from_numpy(remaining)[None])  # [M, V]
        logp = torch.log_softmax(logits.float(), dim=-1)
        special = [i for i in range(logp.shape[1]) if not encoder.token_bytes(i)]
        logp[:, special] = float("-inf")
        best, choice = logp.max(dim=1)  # [M]
        positions = np.flatnonzero(remaining)
        for k in torch.argsort(best, descending=True, stable=True)[:quota].tolist():
            ids[positions[k]] = int(choice[k])
            remaining[positions[k]] = False
    return b"".join(encoder.token_bytes(int(i)) for i in ids[hidden])


def cloze_answers(
    model: object,
    encoder: SpanEncoder,
    examples: Sequence[QAExample],
    contexts: Sequence[ContextBytes],
    settings: WindowSettings,
    *,
    steps: int,
    progress: Progress | None = None,
) -> list[str | None]:
    """The filled answer of each example with a located answer (None for the others: they are
    not asked). ``model`` is the EvalModel (byte models fill through bitbench.fill)."""
    if steps < 1:
        raise BitbenchError(f"--cloze-steps is {steps}: use 1 (all at once) or more rounds")
    if encoder.unit != "byte" and not isinstance(encoder, HasTokenCloze):
        raise BitbenchError(f"a {encoder.unit} model without a masked-LM head cannot fill a cloze")
    out: list[str | None] = []
    for i, (ex, ctx) in enumerate(zip(examples, contexts, strict=True)):
        gold = ex.located
        if gold is None or ex.impossible:
            out.append(None)
            continue
        q = question_bytes(ex.question, settings.max_question_bytes)
        a0, a1 = ctx.byte_span(gold.start, gold.end)
        b0, b1 = cloze_window(ctx, a0, a1, settings.length - len(q) - len(SEPARATOR))
        if encoder.unit == "byte":
            out.append(_fill_bytes(model, q, ctx, (b0, a0, a1, b1), steps))
        else:
            pieces = [q, ctx.data[b0:a0], ctx.data[a0:a1], ctx.data[a1:b1]]
            ids, hidden = encoder.cloze_ids(pieces, 2)
            out.append(fill_tokens(encoder, ids, hidden, steps).decode("utf-8", errors="replace"))
        if progress is not None:
            progress("cloze: filling answers", i + 1, len(examples))
    return out


def _fill_bytes(
    model: object, q: bytes, ctx: ContextBytes, cuts: tuple[int, ...], steps: int
) -> str:
    b0, a0, a1, _ = cuts
    c = [ctx.char_at(b) if b < len(ctx.data) else len(ctx.text) for b in cuts]
    question = q.decode("utf-8")
    probe = question + ctx.text[c[0] : c[3]]
    hole = _hole_char(probe)
    text = (
        question
        + SEPARATOR.decode()
        + ctx.text[c[0] : c[1]]
        + hole * (a1 - a0)
        + ctx.text[c[2] : c[3]]
    )
    result = fill_text(model, text, hole=hole, steps=steps)
    at = len(q) + len(SEPARATOR) + (a0 - b0)
    return result.data[at : at + (a1 - a0)].decode("utf-8", errors="replace")
