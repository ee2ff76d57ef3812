"""Per-task losses and accuracies from the model's logits and a (duck-typed) MaskedBatch.

All losses are means over the positions the task is defined on, computed in float32 (safe under
bf16 autocast); an empty selection gives 0, never NaN. Nothing here syncs with the host.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from bitswin.config import LossWeights
from bitswin.errors import BitswinError
from bitswin.priors import unit_prior
from bitswin.routing import Routing, ratio_loss

LN2 = math.log(2.0)
REQUIRED_FIELDS = ("bit_targets", "byte_targets", "hidden_bits", "hidden_bytes", "pad")


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(values.dtype)
    return (values * m).sum() / m.sum().clamp(min=1.0)


def _field(targets: Any, name: str) -> torch.Tensor | None:
    return getattr(targets, name, None)


def check_targets(targets: Any, batch: int, n_bytes: int) -> None:
    for name in REQUIRED_FIELDS:
        value = _field(targets, name)
        if value is None:
            raise BitswinError(
                f"targets has no field '{name}': pass a bitmask MaskedBatch "
                f"(needs {', '.join(REQUIRED_FIELDS)})"
            )
    if tuple(targets.byte_targets.shape) != (batch, n_bytes):
        raise BitswinError(
            f"targets.byte_targets has shape {tuple(targets.byte_targets.shape)}, the input has "
            f"[{batch}, {n_bytes}] bytes: build the targets from the same batch"
        )


def compute_losses(
    logits: dict[str, torch.Tensor],
    targets: Any,
    weights: LossWeights,
    routings: Sequence[Routing] = (),
    valids: Sequence[torch.Tensor] = (),
    learned_router: bool = False,
    prior: str = "spacelike",
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Returns (weighted total loss, per-task losses (detached), metrics (detached)).

    routings / valids: per unit level, the router's decisions and the items' validity (for the
    ratio loss and the router prior; both 0 without a learned router). prior: the rule the
    level-1 router's prior pulls towards (bitswin.priors).
    """
    pad = targets.pad.bool()  # [B, L]
    pad_bits = pad.repeat_interleave(8, dim=1)  # [B, 8L]
    hidden_bytes = targets.hidden_bytes.bool() & ~pad  # [B, L]
    hidden_bits = targets.hidden_bits.bool() & ~pad_bits  # [B, 8L]
    # The bit loss counts the bits the bit level hid, not the 8 bits of every byte the byte,
    # word and phrase levels hid (those are the byte loss's). Without a mask_bit field: every
    # hidden bit of a byte that is not hidden whole.
    mask_bit = _field(targets, "mask_bit")
    bit_sel = hidden_bits if mask_bit is None else mask_bit.bool() & ~pad_bits
    bit_sel = bit_sel & ~hidden_bytes.repeat_interleave(8, dim=1)
    byte_t = targets.byte_targets.long()  # [B, L]
    bit_t = targets.bit_targets.float()  # [B, 8L]

    bit_logits = logits["bit_logits"].float()  # [B, 8L]
    byte_logits = logits["byte_logits"].float()  # [B, L, 256]

    # --- predictive: bits and bytes -----------------------------------------------------
    bit_nll = F.binary_cross_entropy_with_logits(bit_logits, bit_t, reduction="none")
    loss_bit = _masked_mean(bit_nll, bit_sel)
    byte_nll = F.cross_entropy(byte_logits.transpose(1, 2), byte_t, reduction="none")  # [B, L]
    loss_byte = _masked_mean(byte_nll, hidden_bytes)

    # --- contrastive: replaced or original, on every shown (non-pad, non-hidden) byte -------
    # Always computed (also when nothing is replaced): the graph is the same on every step and
    # rank (DDP, torch.compile) and no host sync is needed to ask "any replaced?".
    shown = ~pad & ~targets.hidden_bytes.bool()
    replaced = _field(targets, "replaced")
    replaced_t = torch.zeros_like(bit_logits[:, ::8]) if replaced is None else replaced.float()
    rep_logits = logits["replaced_logits"].float()
    rep_nll = F.binary_cross_entropy_with_logits(rep_logits, replaced_t, reduction="none")
    loss_replaced = _masked_mean(rep_nll, shown)

    # --- structural: UTF-8 role and char class of hidden bytes ---------------------------
    struct_terms = []
    for name in ("utf8_role", "char_class"):
        label = _field(targets, name)
        if label is not None:
            ce = F.cross_entropy(
                logits[name].float().transpose(1, 2), label.long(), reduction="none"
            )
            struct_terms.append(_masked_mean(ce, hidden_bytes))
    loss_struct = torch.stack(struct_terms).mean() if struct_terms else bit_logits.new_zeros(())

    # --- routers: ratio loss per level (H-Net), a unit prior on level 1 -------------------
    zero = bit_logits.new_zeros(())
    loss_ratio, loss_prior = zero, zero
    if learned_router and routings:
        loss_ratio = torch.stack(
            [ratio_loss(r, v) for r, v in zip(routings, valids, strict=True)]
        ).sum()
        first = routings[0]
        target, defined = unit_prior(prior, byte_t, ~pad)  # [B, L], from the true bytes
        p = first.prob.clamp(1e-6, 1.0 - 1e-6)
        bce = F.binary_cross_entropy(p, target, reduction="none")
        loss_prior = _masked_mean(bce, first.eligible & defined)

    losses = {
        "bit": loss_bit,
        "byte": loss_byte,
        "replaced": loss_replaced,
        "structural": loss_struct,
        "ratio": loss_ratio,
        "router_prior": loss_prior,
    }
    w = weights.to_dict()
    total = sum(w[name] * value for name, value in losses.items())
    assert isinstance(total, torch.Tensor)

    metrics = _metrics(targets, bit_logits, byte_logits, hidden_bits, hidden_bytes)
    with torch.no_grad():
        metrics["bpb_hidden"] = _masked_mean(byte_nll.detach() / LN2, hidden_bytes)
        metrics["acc_replaced"] = _masked_mean(
            ((rep_logits > 0).float() == replaced_t).float(), shown
        )
        metrics["loss_ratio"] = loss_ratio.detach()
    return total, {k: v.detach() for k, v in losses.items()}, metrics


def _metrics(
    targets: Any,
    bit_logits: torch.Tensor,
    byte_logits: torch.Tensor,
    hidden_bits: torch.Tensor,
    hidden_bytes: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Accuracies (detached 0-d tensors) and the counts they are over (`n_*`)."""
    with torch.no_grad():
        pad = targets.pad.bool()
        bit_ok = ((bit_logits > 0).long() == targets.bit_targets.long()).float()  # [B, 8L]
        byte_ok = (byte_logits.argmax(-1) == targets.byte_targets.long()).float()  # [B, L]
        out: dict[str, torch.Tensor] = {
            "acc_hidden_bits": _masked_mean(bit_ok, hidden_bits),
            "n_hidden_bits": hidden_bits.sum(),
            "acc_hidden_bytes": _masked_mean(byte_ok, hidden_bytes),
            "n_hidden_bytes": hidden_bytes.sum(),
        }
        mask_bit = _field(targets, "mask_bit")
        if mask_bit is not None:
            sel = mask_bit.bool() & ~pad.repeat_interleave(8, dim=1)
            out["acc_bit"], out["n_bit"] = _masked_mean(bit_ok, sel), sel.sum()
        for level in ("byte", "word", "phrase"):
            level_mask = _field(targets, f"mask_{level}")
            if level_mask is not None:
                sel = level_mask.bool() & ~pad
                out[f"acc_{level}"], out[f"n_{level}"] = _masked_mean(byte_ok, sel), sel.sum()
    return out
