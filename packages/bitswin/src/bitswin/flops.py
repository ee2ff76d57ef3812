"""Forward FLOPs per byte of a BitSwin config (matmuls + attention; training is about 3x).

Counts 2 FLOPs per multiply-add. Elementwise work (norms, GELU, softmax, embeddings) is left
out, as in the usual 6N-style estimates. Windows are padded, so a sequence that does not fill
its last window pays for the whole window.
"""

from __future__ import annotations

from bitswin.config import BitSwinConfig
from bitswin.errors import BitswinError


def _block_flops_per_token(dim: int, window: int, mlp_ratio: float) -> float:
    hidden = max(1, round(dim * mlp_ratio))
    linear = 2 * (3 * dim * dim + dim * dim + 2 * dim * hidden)  # qkv, proj, mlp
    attention = 2 * 2 * window * dim  # q @ k^T and probs @ v over one window
    return float(linear + attention)


def estimate_flops_per_byte(config: BitSwinConfig, seq_len_bytes: int) -> float:
    """Forward FLOPs per byte of input for sequences of `seq_len_bytes` bytes."""
    if seq_len_bytes < 1:
        raise BitswinError(f"seq_len_bytes is {seq_len_bytes}: use a length >= 1 byte")
    c = config
    total = 0.0
    for i in range(c.num_stages):
        tokens = 8 * seq_len_bytes if i == 0 else seq_len_bytes
        w = c.window_tokens(i)
        padded = -(-tokens // w) * w
        total += c.depths[i] * padded * _block_flops_per_token(c.widths[i], w, c.mlp_ratio)
    d1 = c.widths[0]
    d2 = c.widths[1] if c.num_stages > 1 else d1
    merge_hidden = round(c.mlp_ratio * d2)
    total += seq_len_bytes * 2 * (8 * d1 * merge_hidden + merge_hidden * d2)  # merge MLP
    for i in range(2, c.num_stages):
        if c.widths[i - 1] != c.widths[i]:
            total += seq_len_bytes * 2 * c.widths[i - 1] * c.widths[i]
    d = c.hidden_size
    heads_per_byte = 2 * d * (256 + 1 + 6 + 6 + 1)  # byte, replaced, structural, boundary
    bit_head = 2 * d * 8 * d1 + 8 * (2 * d1 * d1 + 2 * d1)  # unmerge + per-bit MLP
    total += seq_len_bytes * (heads_per_byte + bit_head)
    return total / seq_len_bytes
