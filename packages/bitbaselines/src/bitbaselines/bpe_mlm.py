"""BERT-style masked LM over byte-level BPE tokens (the BPE baseline).

Token embedding (small init) plus a learned absolute position embedding, pre-norm encoder
blocks with full attention restricted to the token's own document and to real (non-PAD) keys,
and a vocabulary-sized head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bitbaselines.bpe import PAD_TOKEN_ID
from bitbaselines.config import BpeMLMConfig
from bitbaselines.layers import EncoderBlock, block_flops_per_position, init_linear_weights
from bitbaselines.weights import BaselineHubMixin


class BpeMLM(nn.Module, BaselineHubMixin):
    """forward(input_ids [B, T], segment_ids [B, T] | None, select bool [B, T] | None)
    -> (hidden [B, T, D], logits [M, V] at the selected tokens, or [B, T, V])."""

    def __init__(self, config: BpeMLMConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.pos = nn.Embedding(config.max_positions, config.d_model)
        self.blocks = nn.ModuleList(
            EncoderBlock(config.d_model, config.n_heads, config.ffn_mult, config.dropout)
            for _ in range(config.n_layers)
        )
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size)
        init_linear_weights(self)
        nn.init.normal_(self.embed.weight, std=config.embed_init_std)
        nn.init.normal_(self.pos.weight, std=config.embed_init_std)

    def forward(
        self, input_ids: Tensor, segment_ids: Tensor | None = None, select: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        T = input_ids.shape[1]
        if self.config.max_positions < T:
            raise ValueError(f"{T} tokens exceed max_positions {self.config.max_positions}")
        pad = input_ids == PAD_TOKEN_ID  # [B, T]
        if segment_ids is None:
            segment_ids = torch.zeros_like(input_ids)
        same_segment = segment_ids.unsqueeze(2) == segment_ids.unsqueeze(1)  # [B, T, T]
        eye = torch.eye(T, dtype=torch.bool, device=input_ids.device)
        visible = (same_segment & ~pad.unsqueeze(1)) | eye  # [B, T, T]; self always visible
        mask = visible.unsqueeze(1)  # [B, 1, T, T]

        def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, T, Dh]
            out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
            return out.transpose(1, 2)  # [B, T, H, Dh]

        positions = torch.arange(T, device=input_ids.device)
        x = self.embed(input_ids) + self.pos(positions).unsqueeze(0)  # [B, T, D]
        for block in self.blocks:
            x = block(x, attend)
        hidden = self.norm(x)  # [B, T, D]
        if select is None:
            return hidden, self.head(hidden)  # [B, T, V]
        return hidden, self.head(hidden[select])  # [M, V]


def bpe_mlm_flops_per_byte(config: BpeMLMConfig, seq_len_bytes: int) -> float:
    """Forward FLOPs per byte: blocks (full attention over the window's tokens) and the
    vocabulary head at every token, divided by the tokenizer's bytes per token."""
    tokens = max(1.0, seq_len_bytes / config.bytes_per_token)
    keys = min(round(tokens), config.max_positions)
    per_block = block_flops_per_position(config.d_model, config.ffn_mult, keys)
    head = 2 * config.d_model * config.vocab_size
    per_token = config.n_layers * per_block + head
    return float(per_token / config.bytes_per_token)


def bpe_mlm_forward_flops(config: BpeMLMConfig, batch: int, tokens: int, predicted: int) -> float:
    """Forward FLOPs of one call on ``batch`` rows of ``tokens`` tokens (full attention) whose
    vocabulary head runs at ``predicted`` selected tokens."""
    per_block = block_flops_per_position(config.d_model, config.ffn_mult, tokens)
    head = 2 * config.d_model * config.vocab_size
    return float(batch * tokens * config.n_layers * per_block + predicted * head)
