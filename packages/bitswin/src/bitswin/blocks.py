"""Transformer blocks and stages over 1-D windows (Swin's alternating regular/shifted windows)."""

from __future__ import annotations

import torch
from torch import nn

from bitswin.window import WindowAttention, window_allowed


class Mlp(nn.Module):
    def __init__(self, dim: int, ratio: float, dropout: float) -> None:
        super().__init__()
        hidden = max(1, round(dim * ratio))
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class SwinBlock(nn.Module):
    """Pre-norm block: x + Attn(LN(x)); x + MLP(LN(x)). `shift` is 0 or window // 2."""

    def __init__(
        self,
        dim: int,
        heads: int,
        window: int,
        shift: int,
        mlp_ratio: float,
        dropout: float,
        attn_dropout: float,
        eps: float,
        bias_init: str = "slopes",
    ) -> None:
        super().__init__()
        self.shift = shift
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = WindowAttention(dim, heads, window, attn_dropout, bias_init)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_ratio, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, allowed: torch.Tensor, return_attention: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        out, weights = self.attn(self.norm1(x), allowed, self.shift, return_attention)
        x = x + self.drop(out)
        x = x + self.mlp(self.norm2(x))
        return x, weights


class SwinStage(nn.Module):
    """`depth` blocks with one window size, alternating regular and cyclically shifted windows.

    Block i is shifted when (i + parity) is odd: an encoder and a decoder of the same stage
    (parity = the encoder's depth) continue one alternation around the coarser stages between
    them. `resolution` > 0 is a fixed sequence length (the bit stage: 8 bits per byte); as in
    Swin (SwinTransformerBlock: a window that covers the whole input is not shifted), a window
    that covers it never shifts.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int,
        window: int,
        mlp_ratio: float,
        dropout: float,
        attn_dropout: float,
        eps: float,
        bias_init: str = "slopes",
        parity: int = 0,
        resolution: int = 0,
    ) -> None:
        super().__init__()
        self.window = window
        covers = resolution > 0 and window >= resolution
        self.shift = 0 if covers else window // 2
        self.blocks = nn.ModuleList(
            SwinBlock(
                dim,
                heads,
                window,
                self.shift if (i + parity) % 2 == 1 else 0,
                mlp_ratio,
                dropout,
                attn_dropout,
                eps,
                bias_init,
            )
            for i in range(depth)
        )

    def forward(
        self,
        x: torch.Tensor,
        valid: torch.Tensor,
        segment_ids: torch.Tensor | None,
        return_attention: bool = False,
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, int]]]:
        """x: [B, N, C]; valid: bool [B, N]; segment_ids: long [B, N] or None.

        Returns x [B, N, C] and, when asked, one (weights [B, nW, W, W], shift) per block.
        """
        masks: dict[int, torch.Tensor] = {}  # shift -> allowed [B, nW, W, W], built once
        maps: list[tuple[torch.Tensor, int]] = []
        for block in self.blocks:
            if block.shift not in masks:
                masks[block.shift] = window_allowed(valid, segment_ids, self.window, block.shift)
            x, weights = block(x, masks[block.shift], return_attention)
            if weights is not None:
                maps.append((weights, block.shift))
        return x, maps
