"""Masked-unit scoring shared by training, validation and evaluation of the baselines.

bpb follows DESIGN.md: bits of the masked-unit loss (-log2 p(true unit)) summed over the masked
units, divided by the bytes those units cover. For the byte model a unit is one byte; for the
BPE model a unit is a token covering ``token_byte_lengths[id]`` bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from bitbaselines.bpe import MASK_TOKEN_ID, NUM_SPECIAL, PAD_TOKEN_ID
from bitbaselines.config import BYTE_MASK_ID
from bitbaselines.tokenizer import encode_windows
from torch.profiler import record_function

from bittrain.engine.bits import LN2
from bittrain.tasks.baseline_masking import MaskDraw

LOSS_RANGE = "bittrain.baseline_loss"  # torch.profiler range (`bitlab bench train` reads it)


@dataclass(frozen=True)
class MaskedScore:
    """Sums over one batch. ``nll`` is the mean loss in nats (a tensor with grad)."""

    nll: torch.Tensor
    bits: float
    units: int
    covered_bytes: int
    correct: int
    rows: int = 0  # the forward's input shape [rows, positions] (for its FLOPs)
    positions: int = 0

    @property
    def bpb(self) -> float:
        return self.bits / max(self.covered_bytes, 1)


def _score(
    logits: torch.Tensor, targets: torch.Tensor, unit_bytes: torch.Tensor, shape: torch.Size
) -> MaskedScore:
    """logits [M, V], targets long [M], unit_bytes long [M]; ``shape`` of the input ids."""
    with record_function(LOSS_RANGE):
        nll_each = F.cross_entropy(logits.float(), targets, reduction="none")  # [M]
        nll = nll_each.mean() if nll_each.numel() else nll_each.sum()
    with torch.no_grad():
        bits = float(nll_each.sum()) / LN2
        correct = int((logits.argmax(dim=-1) == targets).sum())
    return MaskedScore(
        nll=nll,
        bits=bits,
        units=int(targets.numel()),
        covered_bytes=int(unit_bytes.sum()),
        correct=correct,
        rows=int(shape[0]),
        positions=int(shape[1]),
    )


def segments_from_doc_starts(doc_starts: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """Segment ids long [B, L]: 0 until the first document start after byte 0, then 1, ..."""
    if doc_starts is None:
        return torch.zeros_like(like, dtype=torch.long)
    starts = doc_starts.to(torch.long).clone()
    starts[:, 0] = 0
    return starts.cumsum(dim=1)


def score_bytes(
    model: torch.nn.Module,
    windows: torch.Tensor,
    doc_starts: torch.Tensor | None,
    draw: MaskDraw,
) -> MaskedScore:
    """Mask the bytes ``draw`` picks in windows uint8/long [B, L] and score the byte model on
    them."""
    ids = windows.to(torch.long)  # [B, L]
    segments = segments_from_doc_starts(doc_starts, ids)
    masked = draw.mask(
        ids,
        torch.ones_like(ids, dtype=torch.bool),
        mask_id=BYTE_MASK_ID,
        random_low=0,
        random_high=256,
    )
    _, logits = model(masked.input_ids, segments, masked.selected)  # [M, 256]
    targets = ids[masked.selected]  # [M]
    return _score(logits, targets, torch.ones_like(targets), ids.shape)


def tokenize_batch(
    tokenizer,
    windows: torch.Tensor | np.ndarray | list,
    doc_starts: torch.Tensor | np.ndarray | list | None,
    *,
    max_tokens: int,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Byte windows [B, L] -> (token ids long [B, T], segment ids long [B, T]) on ``device``."""
    # windows: uint8 [B, L] (tensor or array) or a list of rows of different lengths
    w = windows.detach().cpu().numpy() if isinstance(windows, torch.Tensor) else windows
    d = doc_starts.detach().cpu().numpy() if isinstance(doc_starts, torch.Tensor) else doc_starts
    if not isinstance(w, list):
        w = np.asarray(w, dtype=np.uint8)
    ids, seg, _ = encode_windows(tokenizer, w, d, max_tokens=max_tokens)
    return torch.from_numpy(ids).to(device), torch.from_numpy(seg).to(device)


def score_tokens(
    model: torch.nn.Module,
    token_ids: torch.Tensor,
    segment_ids: torch.Tensor,
    token_bytes: torch.Tensor,
    *,
    vocab_size: int,
    draw: MaskDraw,
) -> MaskedScore:
    """Mask the tokens ``draw`` picks (token_ids long [B, T], PAD = 0) and score the BPE model.
    token_bytes long [V]: bytes per token id, on the same device."""
    masked = draw.mask(
        token_ids,
        token_ids != PAD_TOKEN_ID,
        mask_id=MASK_TOKEN_ID,
        random_low=NUM_SPECIAL,
        random_high=vocab_size,
    )
    _, logits = model(masked.input_ids, segment_ids, masked.selected)  # [M, V]
    targets = token_ids[masked.selected]  # [M]
    return _score(logits, targets, token_bytes[targets], token_ids.shape)


def score_token_windows(
    model: torch.nn.Module,
    tokenizer: Any,
    windows: torch.Tensor | np.ndarray,
    doc_starts: torch.Tensor | np.ndarray | None,
    token_bytes: torch.Tensor,
    *,
    max_tokens: int,
    vocab_size: int,
    draw: MaskDraw,
) -> MaskedScore:
    """Byte windows [B, L] tokenised (``tokenize_batch``, on ``token_bytes``' device) and
    scored by the BPE model under ``draw`` (``score_tokens``)."""
    ids, seg = tokenize_batch(
        tokenizer, windows, doc_starts, max_tokens=max_tokens, device=token_bytes.device
    )
    return score_tokens(model, ids, seg, token_bytes, vocab_size=vocab_size, draw=draw)
