"""Pre-norm transformer encoder block shared by the byte and the BPE baselines.

The block owns its projections and feed-forward; how queries meet keys (a local band for
bytes, full attention for BPE tokens) is passed in as a function, so that both models share one
tested block.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# (q, k, v) each [B, T, H, Dh] -> attended values [B, T, H, Dh]
AttendFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class EncoderBlock(nn.Module):
    """x + Attn(LN(x)), then x + FFN(LN(x)); GELU feed-forward of width ffn_mult * d_model."""

    def __init__(self, d_model: int, n_heads: int, ffn_mult: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.norm_attn = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm_ffn = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, ffn_mult * d_model),
            nn.GELU(),
            nn.Linear(ffn_mult * d_model, d_model),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, attend: AttendFn) -> torch.Tensor:
        B, T, D = x.shape
        qkv = self.qkv(self.norm_attn(x)).reshape(B, T, 3, self.n_heads, self.head_dim)
        q, k, v = qkv.unbind(dim=2)  # each [B, T, H, Dh]
        attended = attend(q, k, v).reshape(B, T, D)  # [B, T, H, Dh] -> [B, T, D]
        x = x + self.dropout(self.proj(attended))
        return x + self.dropout(self.ffn(self.norm_ffn(x)))


def block_flops_per_position(d_model: int, ffn_mult: int, keys_per_query: int) -> float:
    """Forward FLOPs (2 per multiply-add) of one block for one query position."""
    projections = 2 * d_model * 3 * d_model + 2 * d_model * d_model  # qkv + out
    ffn = 2 * 2 * d_model * ffn_mult * d_model
    attention = 2 * 2 * keys_per_query * d_model  # q.k and p.v over all heads
    return float(projections + ffn + attention)


def init_linear_weights(module: nn.Module, std: float = 0.02) -> None:
    """BERT-style init: normal(0, std) weights, zero biases, unit LayerNorm."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, std=std)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)


def rotary_tables(length: int, head_dim: int, device: torch.device, base: float = 10000.0):
    """cos, sin [length, head_dim // 2] of rotary position embeddings (RoPE)."""
    half = head_dim // 2
    inv_freq = base ** (-torch.arange(half, device=device, dtype=torch.float32) / half)  # [half]
    angles = torch.arange(length, device=device, dtype=torch.float32)[:, None] * inv_freq
    return angles.cos(), angles.sin()  # [length, half] each


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[..., :half], x[..., half:]) of x [B, T, H, Dh] by position (T axis).

    q.k after rotation depends only on the offset between positions: a relative position
    signal that works at any length and is present from the first step.

    Even head_dim: x * [cos, cos] + roll(x, half) * [-sin, sin], the same numbers bit for bit as
    the halves written out (x1 c - x2 s, x2 c + x1 s) in a third of the kernels forward and
    backward (no slices of x, whose gradients would each be a zero-filled copy of x).
    """
    half = cos.shape[-1]
    if x.shape[-1] == 2 * half:
        c = torch.cat([cos, cos], dim=-1)[None, :, None, :].to(x.dtype)  # [1, T, 1, Dh]
        s = torch.cat([-sin, sin], dim=-1)[None, :, None, :].to(x.dtype)
        return x * c + x.roll(half, dims=-1) * s  # roll: [x2, x1]
    x1, x2 = x[..., :half], x[..., half : 2 * half]  # [B, T, H, half]
    c = cos[None, :, None, :].to(x.dtype)  # [1, T, 1, half]
    s = sin[None, :, None, :].to(x.dtype)
    rotated = torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)
    return torch.cat([rotated, x[..., 2 * half :]], dim=-1)  # odd head_dim: last channel as is
