"""Where units start: routers over a sequence of items (bytes, then word units).

Every router sees only what the model is shown (never a hidden byte's truth):

- ``learned``: H-Net's cosine router (goombalab/hnet ``RoutingModule``): p_t = (1 - cos(W_q h_{t-1},
  W_k h_t)) / 2 on the encoder output of the corrupted input, W_q = W_k = I at init; a unit
  starts where p_t >= 1/2.
- ``spacelike``: SpaceByte's byte classes (kjslag/spacebyte: non-alphanumeric ASCII and UTF-8
  lead bytes are "spacelike") on the shown bytes; here a unit starts at each UTF-8 lead byte
  and at the first letter or digit after a spacelike ASCII byte, so a word unit carries the
  spaces and punctuation after it (the bidirectional model needs no causal "space first").
  At the phrase level it is the fixed stride.
- ``fixed``: a start every round(target) items of a document, moved to the next allowed item.

Forced, whatever the router: the first item of a row, of a document (segment change) and after
padding; inside every run of >= 2 hidden items (bytes shown as 8 MASK ids, or units made only of
those) at run offsets 0, k, 2k, .. (``masked_chunk``) and the first item after it, so a masked
span never collapses into one unit. Never forced or chosen: a byte whose shown bits say it is a
UTF-8 continuation (10xxxxxx); hidden bytes are unknown and may start a unit.

At most ceil(unit_cap * n_valid / target) starts per row are kept (forced first, then by
probability); the unit sequences are `slots` long, the cap (``static``) or the batch's longest
row. The cap depends on the row's own valid items only, so padding never changes a unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from bittokens import BIT0, BIT1, MASK_ID, PAD_ID
from torch import nn

from bitswin.config import BitSwinConfig


@dataclass(frozen=True)
class ByteView:
    """What the input shows of each byte, all [B, L]."""

    valid: torch.Tensor  # bool: not padding (8 PAD ids)
    hidden: torch.Tensor  # bool: all 8 bits MASK
    shown: torch.Tensor  # bool: all 8 bits 0/1
    value: torch.Tensor  # long: the byte where shown, else 0
    continuation: torch.Tensor  # bool: shown bits say 10xxxxxx (known UTF-8 continuation)


def byte_view(input_ids: torch.Tensor) -> ByteView:
    b, n = input_ids.shape
    ids = input_ids.reshape(b, n // 8, 8)  # [B, L, 8]
    shown = (ids <= BIT1).all(dim=-1)
    weights = 2 ** torch.arange(7, -1, -1, device=ids.device)
    value = torch.where(shown, (ids.clamp(max=BIT1) * weights).sum(-1), 0)
    continuation = (ids[..., 0] == BIT1) & (ids[..., 1] == BIT0)
    return ByteView(
        valid=~(ids == PAD_ID).all(dim=-1),
        hidden=(ids == MASK_ID).all(dim=-1),
        shown=shown,
        value=value,
        continuation=continuation,
    )


def spacelike_classes(value: torch.Tensor, known: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(space-like ASCII, letter or digit, UTF-8 lead byte), each bool [B, L] and False where the
    byte is not known. SpaceByte's spacelike set = the first plus the third."""
    ascii_ = value < 0x80
    alnum = (
        ((value >= ord("0")) & (value <= ord("9")))
        | ((value >= ord("A")) & (value <= ord("Z")))
        | ((value >= ord("a")) & (value <= ord("z")))
    )
    lead = value >= 0xC0
    return known & ascii_ & ~alnum, known & alnum, known & lead


def spacelike_starts(value: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """bool [B, L]: lead bytes, and letters/digits right after a spacelike ASCII byte."""
    space, alnum, lead = spacelike_classes(value, known)
    after_space = F.pad(space[:, :-1], (1, 0), value=False)
    return lead | (alnum & after_space)


def segment_starts(valid: torch.Tensor, segment_ids: torch.Tensor | None) -> torch.Tensor:
    """bool [B, N]: first valid item of the row, after padding, or of a new segment."""
    prev_valid = F.pad(valid[:, :-1], (1, 0), value=False)
    start = valid & ~prev_valid
    if segment_ids is not None:
        changed = F.pad(segment_ids[:, 1:] != segment_ids[:, :-1], (1, 0), value=True)
        start = start | (valid & changed)
    return start


def _exclusive_cummax(x: torch.Tensor) -> torch.Tensor:
    """Running max of x over earlier positions ([B, N] long; -1 before the first)."""
    running = torch.cummax(x, dim=1).values
    return F.pad(running[:, :-1], (1, 0), value=-1)


def hidden_run_starts(
    hidden: torch.Tensor, valid: torch.Tensor, seg_start: torch.Tensor, every: int
) -> torch.Tensor:
    """bool [B, N]: forced starts of runs of >= 2 hidden items (offsets 0, k, 2k, .. and the
    first item after the run)."""
    n = hidden.shape[1]
    pos = torch.arange(n, device=hidden.device).expand_as(hidden)
    continues = valid & ~seg_start  # item t continues the run of item t - 1's document
    prev_hidden = F.pad(hidden[:, :-1], (1, 0), value=False)
    run_start = hidden & ~(prev_hidden & continues)
    offset = pos - torch.cummax(torch.where(run_start, pos, -1), dim=1).values  # in the run
    next_in_run = F.pad((hidden & continues)[:, 1:], (0, 1), value=False)
    inside = hidden & (offset % every == 0) & ((offset > 0) | next_in_run)
    prev_offset = F.pad(offset[:, :-1], (1, 0), value=0)
    after = valid & ~hidden & continues & prev_hidden & (prev_offset >= 1)
    return inside | after


def fixed_starts(allowed: torch.Tensor, seg_start: torch.Tensor, stride: int) -> torch.Tensor:
    """bool [B, N]: the first allowed item at or after every multiple of `stride` items from
    its document's start."""
    n = allowed.shape[1]
    pos = torch.arange(n, device=allowed.device).expand_as(allowed)
    doc_start = torch.cummax(torch.where(seg_start, pos, 0), dim=1).values  # [B, N]
    key = doc_start * (n + 1) + torch.div(pos - doc_start, stride, rounding_mode="floor")
    return allowed & (key > _exclusive_cummax(torch.where(allowed, key, -1)))


class CosineRouter(nn.Module):
    """p_t = (1 - cos(W_q h_{t-1}, W_k h_t)) / 2, W_q = W_k = I at init (H-Net), on the
    LayerNorm of the encoder's residual stream (H-Net's encoders end in a norm; without it the
    vector every byte token shares makes neighbours look alike, cos ~ 1, and no unit starts)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.q.weight.copy_(torch.eye(self.q.in_features))
            self.k.weight.copy_(torch.eye(self.k.in_features))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """h: [B, N, D] -> p float32 [B, N] (p_0 = 1)."""
        h = self.norm(h)
        q = F.normalize(self.q(h[:, :-1]).float(), dim=-1)
        k = F.normalize(self.k(h[:, 1:]).float(), dim=-1)
        p = ((1.0 - (q * k).sum(-1)) / 2).clamp(0.0, 1.0)  # [B, N - 1]
        return F.pad(p, (1, 0), value=1.0)


@dataclass
class Routing:
    """One level's unit starts over N items. All [B, N] unless said otherwise."""

    prob: torch.Tensor  # float: unit-start probability after forcing (1 forced, 0 never)
    chosen: torch.Tensor  # bool: starts the router asked for (before the cap)
    starts: torch.Tensor  # bool: kept starts (cap applied); unit k = items from start k on
    forced: torch.Tensor  # bool: forced starts (row, document, hidden runs)
    eligible: torch.Tensor  # bool: positions the router decides (valid, not forced, allowed)
    # bool: valid items that, like the item before them, are fully shown (the ratio loss holds
    # the unit length there: on clean text every item is like that)
    clean: torch.Tensor
    ste: torch.Tensor | None  # float: 1 in value, d/dp = +-1 (learned router only)
    slots: int  # length of the unit sequence
    target: float  # items per unit wanted


def route(
    config: BitSwinConfig,
    level: int,
    prob: torch.Tensor | None,
    rule: torch.Tensor | None,
    valid: torch.Tensor,
    segment_ids: torch.Tensor | None,
    hidden: torch.Tensor,
    never: torch.Tensor | None,
    touched: torch.Tensor | None = None,
) -> Routing:
    """Unit starts of one level. `prob` [B, N] is the learned router's output (else None);
    `rule` [B, N] bool the spacelike rule's starts; `never` items that may not start a unit;
    `touched` items not fully shown (default: the hidden ones)."""
    target = float(config.unit_targets[level])  # type: ignore[index]
    seg_start = segment_starts(valid, segment_ids)
    allowed = valid if never is None else valid & ~never
    forced = seg_start | (
        allowed & hidden_run_starts(hidden, valid, seg_start, config.masked_chunk[level])  # type: ignore[index]
    )
    eligible = allowed & ~forced
    if prob is None:
        if rule is None:
            rule = fixed_starts(allowed, seg_start, max(1, round(target)))
        chosen = rule & eligible
        p = chosen.float()
    else:
        p = torch.where(eligible, prob, torch.zeros_like(prob))
        chosen = eligible & (prob >= 0.5)
    p = torch.where(forced, torch.ones_like(p), p)
    wanted = chosen | forced
    # Keep at most `cap` starts per row: row/document starts, then forced, then by probability.
    n_valid = valid.sum(dim=1, keepdim=True)  # [B, 1]
    cap = torch.ceil(config.unit_cap * n_valid.double() / target).long().clamp_min(1)
    priority = torch.where(seg_start, 3.0, torch.where(forced, 2.0, 1.0 + p.detach()))
    priority = torch.where(wanted, priority, torch.full_like(priority, -1.0))
    order = torch.sort(priority, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(order.shape[1], device=order.device).expand_as(order))
    starts = wanted & (rank < cap)
    n = valid.shape[1]
    if config.static_units or torch.compiler.is_compiling():
        slots = max(1, min(n, math.ceil(config.unit_cap * n / target)))
    else:
        slots = max(1, int(starts.sum(dim=1).max()))
    touched = hidden if touched is None else touched
    near = touched | F.pad(touched[:, :-1], (1, 0), value=False)
    clean = valid & ~near
    ste = None
    if prob is not None:
        c = torch.where(starts, p, 1.0 - p)
        ste = 1.0 + (c - c.detach())  # exactly 1 forward; gradient +1 (start) or -1 wrt p
    return Routing(p, chosen, starts, forced, eligible, clean, ste, slots, target)


def ratio_loss(routing: Routing, valid: torch.Tensor) -> torch.Tensor:
    """H-Net's ratio loss N/(N-1) ((N-1) F G + (1-F)(1-G)), F the fraction chosen and G the mean
    probability over the *clean* eligible positions (item and previous item fully shown); its
    minimum 1 is at F = G = 1/N. Masked items make the cosine router start units around them,
    so holding the rate on all positions would leave clean text (where units for masks and
    evaluation are read) under-segmented. N is the target corrected for the forced starts and
    the disallowed items (UTF-8 continuations) of the clean part, so that all starts there come
    to one per `target` items."""
    del valid  # routing.clean holds the valid items the loss is about
    items = routing.clean
    clean = (routing.eligible & items).float()
    n_clean = clean.sum().clamp_min(1.0)
    wanted = items.float().sum() / routing.target - (routing.forced & items).float().sum()
    frac = (wanted / n_clean).clamp(0.01, 0.99).detach()
    big_n = 1.0 / frac
    f = (routing.chosen.float() * clean).sum() / n_clean
    g = (routing.prob * clean).sum() / n_clean
    return big_n / (big_n - 1.0) * ((big_n - 1.0) * f * g + (1.0 - f) * (1.0 - g))
