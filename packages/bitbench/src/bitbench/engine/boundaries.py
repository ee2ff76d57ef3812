"""Unit-start scores of a bitswin model: the one recipe every caller uses.

Training (word and phrase masks, the encoding table), ``bitlab eval`` (boundary F1),
``bitlab table build`` and ``bitlab segment`` all call ``boundary_scores``. The model sees the
*unmasked* bytes (padding as PAD); sources:

- ``model``: the model's own unit-start output (``output.boundary``), one forward;
- ``entropy``: the byte head's predictive entropy (bits) at each byte while it is hidden, from
  two forwards with complementary every-other-byte masks (BLT's entropy patching, measured with
  the masked model itself).

Then, for every source: a unit starts only at a character start, scored by the whole character
(bitmask.char_level_scores); a document start always starts a unit (scored above everything
else in its row); padding never does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from bitmask import char_level_scores

from bitbench.engine.codes import TableCodes
from bitbench.engine.inputs import forward, model_inputs, shown_ids
from bitbench.errors import BitbenchError

BOUNDARY_SOURCES = ("model", "entropy")
LN2 = math.log(2.0)


@dataclass(frozen=True)
class BoundaryScores:
    scores: torch.Tensor  # float32 [B, L], higher = a unit starts
    attentions: tuple[torch.Tensor, ...] | None  # per stage, when asked (bitswin layout)
    passes: int  # forwards run (for the FLOP count)


def passes_of(source: str) -> int:
    """Forwards ``boundary_scores`` runs for ``source``."""
    if source not in BOUNDARY_SOURCES:
        raise BitbenchError(f"boundary source '{source}' is unknown: use one of {BOUNDARY_SOURCES}")
    return 2 if source == "entropy" else 1


def _entropy_bits(logits: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(logits.float(), dim=-1)  # [B, L, 256]
    return -(logp.exp() * logp).sum(-1) / LN2  # [B, L]


@torch.no_grad()
def boundary_scores(
    model: torch.nn.Module,
    windows: torch.Tensor,
    doc_starts: torch.Tensor | None = None,
    *,
    pad: torch.Tensor | None = None,
    source: str = "model",
    codes: TableCodes | None = None,
    return_attention: bool = False,
) -> BoundaryScores:
    """Scores for true bytes ``windows`` uint8 [B, L] (see the module docstring); ``model`` is
    the plain module (put in eval mode for the call, then restored)."""
    passes = passes_of(source)
    device = windows.device
    was_training = model.training
    model.eval()
    try:
        attentions = None
        if source == "model":
            inputs = model_inputs(shown_ids(windows, pad=pad), doc_starts, codes)
            out = forward(model, inputs, return_attention=return_attention)
            raw = out.boundary.float()  # [B, L]
            attentions = out.attentions
        else:
            b, n = windows.shape
            odd = (torch.arange(n, device=device) % 2).bool().expand(b, -1)  # [B, L]
            raw = torch.zeros(b, n, device=device)
            for hide in (odd, ~odd):
                hidden = hide if pad is None else hide & ~pad
                inputs = model_inputs(
                    shown_ids(windows, hidden_bytes=hidden, pad=pad), doc_starts, codes
                )
                out = forward(model, inputs, return_attention=return_attention and not attentions)
                attentions = attentions or out.attentions
                raw = torch.where(hide, _entropy_bits(out.byte_logits), raw)
    finally:
        model.train(was_training)
    scores = char_level_scores(windows, raw)  # [B, L]
    top = scores.amax(dim=1, keepdim=True) + 1.0  # [B, 1]
    if doc_starts is not None:
        scores = torch.where(doc_starts.to(device, torch.bool), top.expand_as(scores), scores)
    if pad is not None:
        floor = scores.amin(dim=1, keepdim=True) - 1.0
        scores = torch.where(pad.to(device, torch.bool), floor.expand_as(scores), scores)
    return BoundaryScores(scores, attentions, passes)
