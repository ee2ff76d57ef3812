"""Unit-start scores of a bitswin model: the one recipe every caller uses.

Training (word and phrase masks, the encoding table), ``bitlab eval`` (boundary F1),
``bitlab table build`` and ``bitlab segment`` all call ``boundary_scores``. The model sees the
*unmasked* bytes (padding as PAD); sources:

- ``model``: the model's own unit-start output (``output.boundary``), one forward. A model
  with units of its own (a hierarchical bitswin) scores its level-1 router's actual unit starts
  above ``OWN_STARTS_THRESHOLD`` and every other byte below it (each ordered by the router's
  probability), so ``scores > OWN_STARTS_THRESHOLD`` are exactly the word units it computes
  with (``BoundaryScores.starts``: after forcing and the unit cap, no threshold fitted to a
  mean length), and top-k or mean-length cuts (encoding tables, segmenters) take them first;
- ``entropy``: the byte head's predictive entropy (bits) at each byte while it is hidden, from
  two forwards with complementary every-other-byte masks (BLT's entropy patching, measured with
  the masked model itself).

Then, for every source: a unit starts only at a character start, scored by the whole character
(bitmask.char_level_scores); a document start always starts a unit (scored above everything
else in its row); padding never does.

``model_units`` is the other half: the unit starts a hierarchical bitswin itself computes with
(its routers, ``BitSwinModel.units``: bit stage, byte encoder, routers and word encoder only),
per level, for word and phrase masks built from the model's own units.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from bitmask import char_level_scores
from bitswin import BitSwinModel, realised_flops_per_byte
from torch.profiler import record_function

from bittrain.engine.bits import LN2
from bittrain.engine.codes import TableCodes
from bittrain.engine.contracts import Module, Tensor
from bittrain.engine.inputs import forward, model_inputs, shown_ids
from bittrain.engine.modules import eval_mode, unwrap
from bittrain.errors import BittrainError

BOUNDARY_SOURCES = ("model", "entropy")
# Scores above this are the model's own unit starts (models with units, source "model").
OWN_STARTS_THRESHOLD = 0.5
# torch.profiler range around the no-grad passes here (`bitlab bench train` reads it).
UNITS_RANGE = "bittrain.units_pass"


@dataclass(frozen=True)
class BoundaryScores:
    scores: torch.Tensor  # float32 [B, L], higher = a unit starts
    attentions: tuple[torch.Tensor, ...] | None  # per stage, when asked (bitswin layout)
    passes: int  # forwards run
    flops: float  # forward FLOPs of those passes, as they ran (bitswin.realised_flops_per_byte)
    # bool [B, L]: the model's own level-1 unit starts (= scores > OWN_STARTS_THRESHOLD) for a
    # model with units of its own and source "model"; None otherwise.
    starts: torch.Tensor | None = None


def passes_of(source: str) -> int:
    """Forwards ``boundary_scores`` runs for ``source``."""
    if source not in BOUNDARY_SOURCES:
        raise BittrainError(f"boundary source '{source}' is unknown: use one of {BOUNDARY_SOURCES}")
    return 2 if source == "entropy" else 1


def _entropy_bits(logits: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(logits.float(), dim=-1)  # [B, L, 256]
    return -(logp.exp() * logp).sum(-1) / LN2  # [B, L]


@torch.no_grad()
def boundary_scores(
    model: Module,
    windows: Tensor,
    doc_starts: Tensor | None = None,
    *,
    pad: Tensor | None = None,
    source: str = "model",
    codes: TableCodes | None = None,
    return_attention: bool = False,
) -> BoundaryScores:
    """Scores for true bytes ``windows`` uint8 [B, L] (see the module docstring); ``model`` is
    the plain module (put in eval mode for the call, then restored)."""
    passes = passes_of(source)
    device = windows.device
    b, n = windows.shape
    flops = 0.0
    with eval_mode(model), record_function(UNITS_RANGE):
        attentions = None
        if source == "model":
            inputs = model_inputs(shown_ids(windows, pad=pad), doc_starts, codes)
            out = forward(model, inputs, return_attention=return_attention)
            flops += realised_flops_per_byte(model.config, n, out.metrics) * b * n
            raw = out.boundary.float()  # [B, L] router probability (1 forced, 0 never)
            if has_units(model):
                own = out.unit_starts[0]  # [B, L] the starts the model computes with
                raw = torch.where(own, 0.5 + 0.5 * raw, 0.5 * raw)  # starts above 1/2
            attentions = out.attentions
        else:
            odd = (torch.arange(n, device=device) % 2).bool().expand(b, -1)  # [B, L]
            raw = torch.zeros(b, n, device=device)
            for hide in (odd, ~odd):
                hidden = hide if pad is None else hide & ~pad
                inputs = model_inputs(
                    shown_ids(windows, hidden_bytes=hidden, pad=pad), doc_starts, codes
                )
                out = forward(model, inputs, return_attention=return_attention and not attentions)
                flops += realised_flops_per_byte(model.config, n, out.metrics) * b * n
                attentions = attentions or out.attentions
                raw = torch.where(hide, _entropy_bits(out.byte_logits), raw)
    scores = char_level_scores(windows, raw)  # [B, L]
    top = scores.amax(dim=1, keepdim=True) + 1.0  # [B, 1]
    if doc_starts is not None:
        scores = torch.where(doc_starts.to(device, torch.bool), top.expand_as(scores), scores)
    if pad is not None:
        floor = scores.amin(dim=1, keepdim=True) - 1.0
        scores = torch.where(pad.to(device, torch.bool), floor.expand_as(scores), scores)
    starts = None
    if source == "model" and has_units(model):
        starts = scores > OWN_STARTS_THRESHOLD
    return BoundaryScores(scores, attentions, passes, flops, starts)


def own_starts_threshold(model: torch.nn.Module, source: str = "model") -> float | None:
    """The score above which ``boundary_scores`` marks the model's own unit starts, or None
    when the model has no units of its own (then units come from a cut of the scores)."""
    return OWN_STARTS_THRESHOLD if source == "model" and has_units(model) else None


@dataclass(frozen=True)
class ModelUnits:
    starts: tuple[torch.Tensor, ...]  # per unit level (word, phrase): bool [B, L] unit starts
    metrics: dict[str, torch.Tensor]  # bytes_per_word_unit, words_per_phrase_unit, ...
    flops: float  # forward FLOPs of the pass, as it ran


def has_units(model: torch.nn.Module) -> bool:
    """Whether ``model`` computes with units of its own (a bitswin with word / phrase levels)."""
    plain = unwrap(model)
    return (
        isinstance(plain, BitSwinModel)
        and plain.config.num_levels > 0
        and plain.config.router != "none"
    )


@torch.no_grad()
def model_units(
    model: Module,
    windows: Tensor,
    doc_starts: Tensor | None = None,
    *,
    pad: Tensor | None = None,
    codes: TableCodes | None = None,
) -> ModelUnits:
    """The units ``model`` computes with on the unmasked bytes ``windows`` uint8 [B, L]
    (``BitSwinModel.units``; see the module docstring). ``model`` is the plain module."""
    if not has_units(model):
        raise BittrainError(
            "this model has no unit levels of its own (a bitswin with 3-4 stages and a router "
            "other than 'none'): use boundary_scores"
        )
    with eval_mode(model), record_function(UNITS_RANGE):
        inputs = model_inputs(shown_ids(windows, pad=pad), doc_starts, codes)
        units = model.units(
            inputs.input_ids, segment_ids=inputs.segment_ids, code_ids=inputs.code_ids
        )
    b, n = windows.shape
    flops = realised_flops_per_byte(model.config, n, units.metrics, units=True) * b * n
    return ModelUnits(tuple(units.unit_starts), dict(units.metrics), flops)
