"""The benchmark's reference: a dense full-attention transformer over bit tokens.

Textbook attention (softmax(QK^T)V with the score matrix materialised, as in the original
Transformer and BERT), the same width, depth and MLP ratio as the BitSwin it is compared with,
one token per bit. It exists only for `bitswin.bench`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from bittokens import BIT_VOCAB_SIZE
from torch import nn


class DenseBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = round(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        h, hd = self.heads, c // self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, h, hd).permute(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(-1, -2)) * hd**-0.5  # [B, H, N, N]
        out = scores.softmax(-1) @ v  # [B, H, N, hd]
        x = x + self.proj(out.transpose(1, 2).reshape(b, n, c))
        return x + self.mlp(self.norm2(x))


class DenseBitTransformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(BIT_VOCAB_SIZE, dim)
        self.blocks = nn.ModuleList(DenseBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 1)

    def forward(self, input_ids: torch.Tensor, bit_targets: torch.Tensor) -> torch.Tensor:
        """Returns the bit loss (BCE over all positions)."""
        x = self.embed(input_ids)  # [B, N, D]
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.norm(x)).squeeze(-1)  # [B, N]
        return F.binary_cross_entropy_with_logits(logits.float(), bit_targets.float())


def dense_flops_per_bit(dim: int, depth: int, mlp_ratio: float, n_bits: int) -> float:
    """Forward FLOPs per bit token (2 per multiply-add) at sequence length n_bits."""
    hidden = round(dim * mlp_ratio)
    linear = 2 * (4 * dim * dim + 2 * dim * hidden)
    attention = 2 * 2 * n_bits * dim
    return float(depth * (linear + attention) + 2 * dim)
