"""Byte-level masked LM with local attention (the byte baseline).

Each byte attends to the bytes at most ``window`` positions away, inside its own document.
The sequence is cut into blocks of ``window`` bytes and each block's queries meet the keys of
the previous, its own and the next block (3 * window keys), so cost is linear in length. Up to
``FULL_BAND_MAX_BLOCKS`` blocks the same band is computed as one [L, L] attention with the
keys outside the band masked (the same numbers up to float summation order): at 4 blocks it
multiplies 4/3 of the banded version's scores, in one large product per head instead of many
small ones, and is faster on CPU. The FLOP count is the band's either way. The
position signal is a learned relative bias per head and offset, shared by all layers (T5
style), so a checkpoint works at any sequence length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bitbaselines.config import BYTE_PAD_ID, BYTE_VOCAB_SIZE, ByteMLMConfig
from bitbaselines.layers import (
    EncoderBlock,
    apply_rotary,
    block_flops_per_position,
    init_linear_weights,
    rotary_tables,
)
from bitbaselines.weights import BaselineHubMixin

# Sequences of at most this many windows attend as one masked [L, L] product (module docstring).
FULL_BAND_MAX_BLOCKS = 4


def _blocks_with_neighbours(x: torch.Tensor, window: int) -> torch.Tensor:
    """[B, nb*W, ...] -> [B, nb, 3W, ...]: each block with its previous and next block (zeros
    beyond the ends). One padded copy viewed as overlapping windows of 3 blocks (``unfold``),
    so the backward pass is one accumulation, not three zero-filled slice gradients."""
    if x.dtype == torch.bool:  # padded as integers: torch 2.13's inductor mis-builds bool padding
        return _blocks_with_neighbours(x.long(), window).bool()
    B, Lp = x.shape[:2]
    nb = Lp // window
    blocks = x.reshape(B, nb, window, -1)  # [B, nb, W, F]
    padded = F.pad(blocks, (0, 0, 0, 0, 1, 1))  # [B, nb+2, W, F]
    triples = padded.unfold(1, 3, 1)  # [B, nb, W, F, 3]: blocks j-1, j, j+1
    return triples.permute(0, 1, 4, 2, 3).reshape(B, nb, 3 * window, *x.shape[2:])


class ByteMLM(nn.Module, BaselineHubMixin):
    """forward(input_ids [B, L], segment_ids [B, L] | None, select bool [B, L] | None)
    -> (hidden [B, L, D], logits [M, 256] at the selected bytes, or [B, L, 256])."""

    def __init__(self, config: ByteMLMConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(BYTE_VOCAB_SIZE, config.d_model)
        self.rel_bias = nn.Parameter(torch.zeros(config.n_heads, 2 * config.window + 1))
        self.blocks = nn.ModuleList(
            EncoderBlock(config.d_model, config.n_heads, config.ffn_mult, config.dropout)
            for _ in range(config.n_layers)
        )
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, 256)
        init_linear_weights(self)
        nn.init.normal_(self.embed.weight, std=config.embed_init_std)

    def _masked_bias(
        self, offset: Tensor, same_segment: Tensor, key_pad: Tensor, dims: int
    ) -> Tensor:
        """Float mask: the relative bias where a key is visible (in the band, same segment, not
        padding unless it is the query itself), -inf elsewhere. ``offset`` [Q, K] is key
        position minus query position, ``same_segment`` / ``key_pad`` broadcast to
        [B, *, Q, K]; the heads' axis is inserted ``dims`` axes before the end."""
        W = self.config.window
        visible = (offset.abs() <= W) & same_segment & (~key_pad | (offset == 0))
        bias = self.rel_bias[:, (offset.clamp(-W, W) + W)]  # [H, Q, K]
        bias = bias.reshape(bias.shape[0], *([1] * (dims - 2)), *bias.shape[1:])
        neg = torch.finfo(bias.dtype).min
        return bias.masked_fill(~visible.unsqueeze(-dims - 1), neg)

    def _banded_mask(self, segment_ids: Tensor, pad: Tensor) -> Tensor:
        """[B, H, nb, W, 3W]: each block's queries against its 3 neighbouring blocks' keys."""
        W = self.config.window
        B, Lp = segment_ids.shape
        q_seg = segment_ids.reshape(B, Lp // W, W, 1)  # [B, nb, W, 1]
        # Keys outside the sequence get segment -1 (never equal to a real segment).
        k_seg = _blocks_with_neighbours((segment_ids + 1).unsqueeze(-1), W).squeeze(-1) - 1
        k_pad = _blocks_with_neighbours(pad.unsqueeze(-1), W).squeeze(-1)  # [B, nb, 3W]
        i = torch.arange(W, device=segment_ids.device).reshape(W, 1)
        j = torch.arange(3 * W, device=segment_ids.device).reshape(1, 3 * W)
        same = k_seg.unsqueeze(2) == q_seg  # [B, nb, W, 3W]
        return self._masked_bias(j - W - i, same, k_pad.unsqueeze(2), dims=3)

    def _full_mask(self, segment_ids: Tensor, pad: Tensor) -> Tensor:
        """[B, H, Lp, Lp]: every query against every key, the band's keys visible."""
        pos = torch.arange(segment_ids.shape[1], device=segment_ids.device)
        same = segment_ids.unsqueeze(2) == segment_ids.unsqueeze(1)  # [B, Lp, Lp]
        return self._masked_bias(pos[None, :] - pos[:, None], same, pad.unsqueeze(1), dims=2)

    def forward(
        self, input_ids: Tensor, segment_ids: Tensor | None = None, select: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        B, L = input_ids.shape
        W = self.config.window
        Lp = -(-L // W) * W
        pad = input_ids == BYTE_PAD_ID  # [B, L]
        if segment_ids is None:
            segment_ids = torch.zeros_like(input_ids)
        if Lp != L:  # pad to whole blocks; the extra positions are padding
            extra = Lp - L
            input_ids = F.pad(input_ids, (0, extra), value=BYTE_PAD_ID)  # [B, Lp]
            segment_ids = F.pad(segment_ids, (0, extra), value=-2)  # [B, Lp]
            pad = F.pad(pad, (0, extra), value=True)
        H = self.config.n_heads
        nb = Lp // W
        full = nb <= FULL_BAND_MAX_BLOCKS
        # [B, H, Lp, Lp] or [B, H, nb, W, 3W]
        mask = self._full_mask(segment_ids, pad) if full else self._banded_mask(segment_ids, pad)
        cos, sin = rotary_tables(Lp, self.config.d_model // H, input_ids.device)

        def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            Dh = q.shape[-1]
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)  # [B, Lp, H, Dh]
            if full:
                q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, Lp, Dh]
                out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype))
                return out.transpose(1, 2)  # [B, Lp, H, Dh]
            qb = q.reshape(B, nb, W, H, Dh).permute(0, 3, 1, 2, 4)  # [B, H, nb, W, Dh]
            kb = _blocks_with_neighbours(k, W).permute(0, 3, 1, 2, 4)  # [B, H, nb, 3W, Dh]
            vb = _blocks_with_neighbours(v, W).permute(0, 3, 1, 2, 4)  # [B, H, nb, 3W, Dh]
            out = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=mask.to(qb.dtype))
            return out.permute(0, 2, 3, 1, 4).reshape(B, Lp, H, Dh)  # [B, Lp, H, Dh]

        x = self.embed(input_ids)  # [B, Lp, D]
        for block in self.blocks:
            x = block(x, attend)
        hidden = self.norm(x)[:, :L]  # [B, L, D]
        if select is None:
            return hidden, self.head(hidden)  # [B, L, 256]
        return hidden, self.head(hidden[select])  # [M, 256]


def byte_mlm_flops_per_byte(config: ByteMLMConfig, seq_len_bytes: int) -> float:
    """Forward FLOPs per byte: every block at every byte (3*window keys each) plus the 256-way
    head at every byte. Independent of length (local attention); the argument is accepted for
    the common interface."""
    del seq_len_bytes
    keys = 3 * config.window
    per_block = block_flops_per_position(config.d_model, config.ffn_mult, keys)
    head = 2 * config.d_model * 256
    return float(config.n_layers * per_block + head)


def byte_mlm_forward_flops(config: ByteMLMConfig, batch: int, length: int, predicted: int) -> float:
    """Forward FLOPs of one call on ``batch`` rows of ``length`` bytes (padded to whole
    windows) whose head runs at ``predicted`` selected bytes."""
    padded = -(-length // config.window) * config.window
    per_block = block_flops_per_position(config.d_model, config.ffn_mult, 3 * config.window)
    return float(
        batch * padded * config.n_layers * per_block + predicted * 2 * config.d_model * 256
    )
