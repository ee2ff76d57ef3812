"""The bit stage: bit ids -> bit features and one token per byte.

Each byte's 8 ids (0 / 1 / MASK / PAD) are embedded, pass `depth` Swin blocks whose windows lie
inside the byte, and are merged into one byte vector. Nothing here looks outside the byte, so
the stage is a pure function of the 8 ids: with `unique=True` it runs once per distinct pattern
in the batch (`torch.unique(..., return_inverse=True)`) and the results are gathered back to
every byte (gradients flow through the gather). English text with masks has a few hundred to a
few thousand distinct patterns per batch of thousands of bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bitswin.blocks import SwinStage
from bitswin.config import BitSwinConfig
from bitswin.embedding import BitEmbedding, ByteMerge
from bitswin.window import offsets_from_windows

_RADIX = 4  # ids are 0..3, so a byte's 8 ids are one base-4 number < 4^8


@dataclass
class BitStageOutput:
    byte_tokens: torch.Tensor  # [B, L, D_byte] merged byte vectors
    bit_features: torch.Tensor  # [B, 8L, D_bit] bit-stage output (the bit head's skip)
    # rows the stage ran on (distinct patterns, or B * L), a 0-dim int64 tensor: a Python int
    # would be a guard on its value under torch.compile (a recompile when it changes)
    patterns: torch.Tensor
    attention: torch.Tensor | None  # [B, depth, 8L, 2W - 1] when asked


class BitStage(nn.Module):
    def __init__(self, config: BitSwinConfig) -> None:
        super().__init__()
        c = config
        d_bit, d_byte = c.widths[0], c.widths[1]
        self.unique = c.bit_unique
        self.embed = BitEmbedding(d_bit, c.embed_init_std)
        self.drop = nn.Dropout(c.dropout)
        self.stage = SwinStage(
            d_bit,
            c.depths[0],
            c.heads[0],
            c.windows[0],
            c.bit_mlp_ratio,
            c.dropout,
            c.attn_dropout,
            c.layer_norm_eps,
            c.bias_init,
            resolution=8,
        )
        self.merge = ByteMerge(d_bit, d_byte, c.layer_norm_eps, round(c.bit_mlp_ratio * d_byte))
        self.register_buffer("radix", _RADIX ** torch.arange(8), persistent=False)

    def forward(self, input_ids: torch.Tensor, return_attention: bool = False) -> BitStageOutput:
        """input_ids: long [B, 8L]."""
        b, n_bits = input_ids.shape
        n_bytes = n_bits // 8
        per_byte = input_ids.reshape(b * n_bytes, 8)  # [BL, 8]
        inverse = None
        if self.unique:
            codes = (per_byte * self.radix).sum(dim=1)  # [BL] base-4 code of the 8 ids
            distinct, inverse = torch.unique(codes, return_inverse=True)  # [U], [BL]
            rows = torch.div(distinct[:, None], self.radix, rounding_mode="floor") % _RADIX
        else:
            rows = per_byte  # [BL, 8]
        x = self.drop(self.embed(rows))  # [U, 8, D_bit]
        valid = torch.ones(rows.shape, dtype=torch.bool, device=rows.device)  # [U, 8]
        x, maps = self.stage(x, valid, None, return_attention)
        tokens = self.merge(x)[:, 0]  # [U, 1, D_byte] -> [U, D_byte]
        attention = None
        if return_attention:
            # [U, depth, 8, 2W - 1] per pattern -> per bit position
            stacked = torch.stack([offsets_from_windows(w, 8, s) for w, s in maps], dim=1)
            if inverse is not None:
                stacked = stacked.index_select(0, inverse)
            d, o = stacked.shape[1], stacked.shape[3]
            attention = stacked.reshape(b, n_bytes, d, 8, o).permute(0, 2, 1, 3, 4)
            attention = attention.reshape(b, d, n_bits, o)  # [B, depth, 8L, 2W - 1]
        if inverse is not None:
            # index_select, not x[inverse]: its backward (index_add) is deterministic on CPU,
            # advanced indexing's (index_put with accumulate) is not with several threads.
            tokens = tokens.index_select(0, inverse)  # [BL, D_byte]
            x = x.index_select(0, inverse)  # [BL, 8, D_bit]
        return BitStageOutput(
            byte_tokens=tokens.reshape(b, n_bytes, -1),
            bit_features=x.reshape(b, n_bits, -1),
            patterns=torch.scalar_tensor(rows.shape[0], dtype=torch.long, device=rows.device),
            attention=attention,
        )
