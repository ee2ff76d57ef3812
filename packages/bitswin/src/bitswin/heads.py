"""Prediction heads on the final byte-level representation (and the bit head)."""

from __future__ import annotations

import torch
from torch import nn

NUM_UTF8_ROLES = 6  # bitcodec.facts.NUM_UTF8_ROLES (bitswin imports only bittokens)
NUM_CHAR_CLASSES = 6  # bitcodec.facts.NUM_CHAR_CLASSES


class BitHead(nn.Module):
    """Bit logits at stage-1 resolution.

    The final byte vector is un-merged into 8 bit slots (Linear D -> 8 * D1), added to the
    stage-1 output of those bits (a U-Net style skip), then LN -> Linear -> GELU -> Linear(1).
    """

    def __init__(self, byte_dim: int, bit_dim: int, eps: float) -> None:
        super().__init__()
        self.unmerge = nn.Linear(byte_dim, 8 * bit_dim)
        self.norm = nn.LayerNorm(bit_dim, eps=eps)
        self.fc = nn.Linear(bit_dim, bit_dim)
        self.act = nn.GELU()
        self.out = nn.Linear(bit_dim, 1)

    def forward(self, byte_hidden: torch.Tensor, bit_skip: torch.Tensor) -> torch.Tensor:
        b, n, d1 = bit_skip.shape
        up = self.unmerge(byte_hidden).reshape(b, n, d1)  # [B, L, 8*D1] -> [B, 8L, D1]
        h = self.norm(up + bit_skip)
        return self.out(self.act(self.fc(h))).squeeze(-1)  # [B, 8L]


class ByteHeads(nn.Module):
    """256-way byte logits, replaced-or-original, UTF-8 role, char class."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.byte = nn.Linear(dim, 256)
        self.replaced = nn.Linear(dim, 1)
        self.utf8_role = nn.Linear(dim, NUM_UTF8_ROLES)
        self.char_class = nn.Linear(dim, NUM_CHAR_CLASSES)

    def forward(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """h: [B, L, D] -> logits dict (shapes in BitSwinOutput)."""
        return {
            "byte_logits": self.byte(h),  # [B, L, 256]
            "replaced_logits": self.replaced(h).squeeze(-1),  # [B, L]
            "utf8_role": self.utf8_role(h),  # [B, L, 6]
            "char_class": self.char_class(h),  # [B, L, 6]
        }
