"""1-D (shifted) window attention with a relative position bias.

Layout of one stage with N tokens, window W and shift s (0 or W // 2):
  1. pad the sequence to Np = ceil(N / W) * W with invalid tokens;
  2. roll it left by s (Swin's cyclic shift): rolled[r] = padded[(r + s) % Np];
  3. cut it into Np / W windows of W tokens and attend inside each window.
A query may attend to a key of its window only when the key is a valid (non-pad) token, has the
same segment id, and lies on the same side of the wrap (the last window of a shifted layout holds
the sequence's end and its first s tokens; those two groups never see each other). Every token
may attend to itself, so no softmax row is empty (pad rows stay finite and are never read).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def padded_length(n: int, window: int) -> int:
    return -(-n // window) * window


def partition(x: torch.Tensor, window: int, shift: int) -> torch.Tensor:
    """[B, N, ...] -> [B, nW, W, ...]: pad to a multiple of the window, roll left by `shift`."""
    b, n = x.shape[:2]
    np_ = padded_length(n, window)
    if np_ != n:
        pad_shape = (b, np_ - n, *x.shape[2:])
        x = torch.cat([x, x.new_zeros(pad_shape)], dim=1)  # [B, Np, ...]
    if shift:
        x = torch.roll(x, shifts=-shift, dims=1)
    return x.reshape(b, np_ // window, window, *x.shape[2:])  # [B, nW, W, ...]


def unpartition(xw: torch.Tensor, n: int, shift: int) -> torch.Tensor:
    """Inverse of `partition`: [B, nW, W, ...] -> [B, N, ...]."""
    b, nw, w = xw.shape[:3]
    x = xw.reshape(b, nw * w, *xw.shape[3:])  # [B, Np, ...]
    if shift:
        x = torch.roll(x, shifts=shift, dims=1)
    return x if x.shape[1] == n else x[:, :n]  # a no-op slice still costs a zero-fill in backward


def window_allowed(
    valid: torch.Tensor, segment_ids: torch.Tensor | None, window: int, shift: int
) -> torch.Tensor:
    """Which key each query may attend to: bool [B, nW, W, W] (query i, key j).

    valid: bool [B, N] (False = padding); segment_ids: long [B, N] or None.
    """
    b, n = valid.shape
    np_ = padded_length(n, window)
    valid_w = partition(valid, window, shift)  # [B, nW, W]
    allowed = valid_w[:, :, None, :].expand(b, np_ // window, window, window)  # key validity
    if segment_ids is not None:
        seg_w = partition(segment_ids, window, shift)  # [B, nW, W]
        allowed = allowed & (seg_w[:, :, :, None] == seg_w[:, :, None, :])
    if shift:
        # Original index of each rolled slot; the first `shift` originals wrapped to the end.
        orig = (torch.arange(np_, device=valid.device) + shift) % np_  # [Np]
        side = (orig < shift).long().reshape(np_ // window, window)  # [nW, W] 1 = wrapped
        allowed = allowed & (side[None, :, :, None] == side[None, :, None, :])
    pos = torch.arange(window, device=valid.device)
    return allowed | (pos[:, None] == pos[None, :])  # every token sees itself: [B, nW, W, W]


def relative_index(window: int, device: torch.device | None = None) -> torch.Tensor:
    """long [W, W]: index into a (2W - 1)-row bias table of offset (query - key)."""
    pos = torch.arange(window, device=device)
    return pos[:, None] - pos[None, :] + window - 1


def interpolate_bias_table(table: torch.Tensor, window: int) -> torch.Tensor:
    """Resize a [2W' - 1, H] relative-bias table to [2W - 1, H] by linear interpolation over the
    offset axis (offset 0 stays the centre), so a checkpoint moves to another window size."""
    rows = 2 * window - 1
    if table.shape[0] == rows:
        return table
    t = table.t()[None]  # [1, H, 2W'-1]
    t = F.interpolate(t.float(), size=rows, mode="linear", align_corners=True)  # [1, H, 2W-1]
    return t[0].t().to(table.dtype).contiguous()


def local_offset_bias(window: int, heads: int, slope: float = 1.0) -> torch.Tensor:
    """bitswin 0.1's initial [2W - 1, H] bias table ("neighbours"): head h prefers the offset
    (key - query) d_h from -1, +1, -2, +2, ... (cycling), falling off by `slope` per position.

    Every head then looks at one neighbour: a 32-byte window acts as a +-5-byte kernel for most
    of a short run, which is why "slopes" is the default now.
    """
    preferred = [d for k in range(1, window) for d in (-k, k)] or [0]
    offsets = torch.arange(2 * window - 1, dtype=torch.float32) - (window - 1)  # key - query
    table = torch.empty(2 * window - 1, heads)
    for h in range(heads):
        table[:, h] = -slope * (offsets - preferred[h % len(preferred)]).abs()
    # The table is indexed by (query - key), the reverse of `offsets`.
    return table.flip(0).contiguous()


def head_slopes(heads: int) -> list[float]:
    """Per-head decay of the initial bias: pairs of heads at 1, 1/4, 1/16, ..., the last head 0
    (flat over its whole window)."""
    if heads == 1:
        return [0.25]
    slopes = [4.0 ** -(h // 2) for h in range(heads - 1)]
    return [*slopes, 0.0]


def slope_bias(window: int, heads: int) -> torch.Tensor:
    """Initial [2W - 1, H] bias table ("slopes", ALiBi-like, symmetric in a masked model):
    head h scores a key at distance d by -s_h * |d - p_h|, with slopes from `head_slopes` and
    p_h = -1 / +1 for the two heads of each pair with s >= 1/4 (they see the left and the right
    neighbour first, which is what gets a masked byte model off the unigram plateau), else 0.
    Heads with small slopes attend over the whole window from step 0."""
    offsets = torch.arange(2 * window - 1, dtype=torch.float32) - (window - 1)  # key - query
    table = torch.empty(2 * window - 1, heads)
    for h, s in enumerate(head_slopes(heads)):
        preferred = (-1.0 if h % 2 == 0 else 1.0) if s >= 0.25 and window > 1 else 0.0
        table[:, h] = -s * (offsets - preferred).abs()
    return table.flip(0).contiguous()  # indexed by (query - key)


def initial_bias(window: int, heads: int, mode: str) -> torch.Tensor:
    return slope_bias(window, heads) if mode == "slopes" else local_offset_bias(window, heads)


def offsets_from_windows(weights: torch.Tensor, n: int, shift: int) -> torch.Tensor:
    """Window attention weights [B, nW, W, W] -> [B, N, 2W - 1] in relative-offset layout:
    out[b, n, o] is the weight of query n on key n + o - (W - 1) (0 outside its window)."""
    b, nw, w, _ = weights.shape
    idx = (-relative_index(w, weights.device) + 2 * (w - 1)).expand(
        b, nw, w, w
    )  # key - query + W-1
    out = weights.new_zeros(b, nw, w, 2 * w - 1)
    out.scatter_(3, idx, weights)  # [B, nW, W, 2W-1]
    return unpartition(out, n, shift)  # [B, N, 2W-1]


class WindowAttention(nn.Module):
    """Multi-head self-attention inside 1-D windows with a learned relative position bias."""

    def __init__(
        self,
        dim: int,
        heads: int,
        window: int,
        attn_dropout: float = 0.0,
        bias_init: str = "slopes",
    ) -> None:
        super().__init__()
        self.dim, self.heads, self.window = dim, heads, window
        self.head_dim = dim // heads
        self.attn_dropout = attn_dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        # One bias per head and offset (query - key) in [-(W-1), W-1].
        self.rel_bias = nn.Parameter(initial_bias(window, heads, bias_init))
        self.register_buffer("rel_index", relative_index(window), persistent=False)

    def bias(self) -> torch.Tensor:
        """float [H, W, W]."""
        return self.rel_bias[self.rel_index].permute(2, 0, 1)

    def forward(
        self,
        x: torch.Tensor,
        allowed: torch.Tensor,
        shift: int,
        return_attention: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: [B, N, C]; allowed: bool [B, nW, W, W] from `window_allowed` with the same shift.

        Returns the output [B, N, C] and, when asked, head-averaged weights [B, nW, W, W].
        """
        b, n, c = x.shape
        w, h, hd = self.window, self.heads, self.head_dim
        xw = partition(x, w, shift)  # [B, nW, W, C]
        nw = xw.shape[1]
        qkv = (
            self.qkv(xw).reshape(b * nw, w, 3, h, hd).permute(2, 0, 3, 1, 4)
        )  # [3, B*nW, H, W, hd]
        q, k, v = qkv.unbind(0)  # unbind: its backward stacks, no zero-filled buffers
        zero = torch.zeros((), dtype=q.dtype, device=q.device)
        neg = torch.where(allowed, zero, float("-inf")).reshape(b * nw, 1, w, w)  # [B*nW, 1, W, W]
        mask = neg + self.bias().to(q.dtype)[None]  # [B*nW, H, W, W]
        dropout = self.attn_dropout if self.training else 0.0
        weights = None
        if return_attention:
            scores = (q @ k.transpose(-1, -2)) * (hd**-0.5) + mask  # [B*nW, H, W, W]
            low = q.dtype in (torch.float16, torch.bfloat16)  # softmax in float32 under autocast
            probs = scores.float().softmax(-1).to(q.dtype) if low else scores.softmax(-1)
            weights = probs.mean(dim=1).reshape(b, nw, w, w).detach()  # [B, nW, W, W]
            out = F.dropout(probs, dropout, self.training) @ v  # [B*nW, H, W, hd]
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        out = out.transpose(1, 2).reshape(b, nw, w, c)  # [B, nW, W, C]
        return self.proj(unpartition(out, n, shift)), weights
