"""Window attention equals full attention under an independently built block mask."""

from __future__ import annotations

import pytest
import torch
from bitswin.window import (
    WindowAttention,
    head_slopes,
    initial_bias,
    interpolate_bias_table,
    offsets_from_windows,
    partition,
    unpartition,
    window_allowed,
)


def dense_reference(
    attn: WindowAttention,
    x: torch.Tensor,
    valid: torch.Tensor,
    segments: torch.Tensor | None,
    shift: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full [N, N] attention; windows defined in original coordinates, no roll and no padding.

    With shift s the windows are [0, s), [s, s + W), [s + W, s + 2W), ...: Swin's cyclic shift
    plus its wrap mask is exactly this partition of the sequence.
    """
    b, n, c = x.shape
    w, h, hd = attn.window, attn.heads, attn.head_dim
    pos = torch.arange(n)
    win_id = (pos + w - shift) // w if shift else pos // w
    allowed = (win_id[:, None] == win_id[None, :])[None] & valid[:, None, :]  # [B, N, N]
    if segments is not None:
        allowed = allowed & (segments[:, :, None] == segments[:, None, :])
    allowed = allowed | torch.eye(n, dtype=torch.bool)[None]
    offset = (pos[:, None] - pos[None, :]).clamp(-(w - 1), w - 1) + w - 1  # [N, N]
    bias = attn.rel_bias[offset].permute(2, 0, 1)  # [H, N, N]
    q, k, v = attn.qkv(x).reshape(b, n, 3, h, hd).permute(2, 0, 3, 1, 4)  # [B, H, N, hd] each
    scores = q @ k.transpose(-1, -2) * hd**-0.5 + bias[None]
    scores = scores.masked_fill(~allowed[:, None], float("-inf"))
    probs = scores.softmax(-1)  # [B, H, N, N]
    out = (probs @ v).transpose(1, 2).reshape(b, n, c)
    return attn.proj(out), probs.mean(1)


@pytest.mark.parametrize("n", [1, 5, 24, 37, 64])
@pytest.mark.parametrize("window", [1, 3, 8, 12])
@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("with_segments", [False, True])
def test_window_attention_equals_masked_full_attention(n, window, shifted, with_segments):
    torch.manual_seed(n * 100 + window)
    attn = WindowAttention(dim=12, heads=3, window=window).double()
    with torch.no_grad():
        attn.rel_bias.normal_(std=1.0)  # a bias that matters
    b = 3
    x = torch.randn(b, n, 12, dtype=torch.float64)
    valid = torch.rand(b, n) > 0.2
    valid[0] = True
    valid[1, n // 2 :] = False  # trailing padding
    segments = torch.randint(0, 3, (b, n)).cumsum(1) if with_segments else None
    shift = window // 2 if shifted else 0
    allowed = window_allowed(valid, segments, window, shift)
    out, weights = attn(x, allowed, shift, return_attention=True)
    fast, _ = attn(x, allowed, shift, return_attention=False)
    ref, ref_probs = dense_reference(attn, x, valid, segments, shift)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, ref, atol=1e-10, rtol=0)
    torch.testing.assert_close(fast, ref, atol=1e-10, rtol=0)
    # Attention maps in offset layout agree with the dense probabilities.
    maps = offsets_from_windows(weights, n, shift)  # [B, N, 2W-1]
    for o in range(2 * window - 1):
        d = o - (window - 1)
        for i in range(n):
            j = i + d
            expect = ref_probs[:, i, j] if 0 <= j < n else torch.zeros(b, dtype=torch.float64)
            torch.testing.assert_close(maps[:, i, o], expect, atol=1e-10, rtol=0)


def test_partition_round_trip():
    x = torch.randn(2, 29, 4)
    for window, shift in [(8, 0), (8, 4), (5, 2)]:
        xw = partition(x, window, shift)
        assert xw.shape == (2, -(-29 // window), window, 4)
        torch.testing.assert_close(unpartition(xw, 29, shift), x)


def test_fully_masked_rows_stay_finite():
    attn = WindowAttention(dim=8, heads=2, window=4)
    x = torch.randn(1, 8, 8)
    valid = torch.zeros(1, 8, dtype=torch.bool)  # everything is padding
    for shift in (0, 2):
        out, _ = attn(x, window_allowed(valid, None, 4, shift), shift)
        assert torch.isfinite(out).all()


def test_bias_table_interpolation_keeps_endpoints_and_centre():
    table = torch.arange(15, dtype=torch.float32)[:, None].repeat(1, 2)  # window 8
    bigger = interpolate_bias_table(table, 12)
    assert bigger.shape == (23, 2)
    assert bigger[0, 0] == 0 and bigger[-1, 0] == 14 and bigger[11, 0] == 7


def _mass_beyond(table: torch.Tensor, window: int, reach: int) -> float:
    """Mean over heads of the attention weight a middle query puts on keys farther than
    `reach`, from the bias alone (q = k = 0 at init)."""
    offsets = torch.arange(2 * window - 1) - (window - 1)
    inside = offsets.abs() < window // 2  # keys of a query in the middle of its window
    probs = table[inside].softmax(dim=0)  # [keys, H]
    far = offsets[inside].abs() > reach
    return float(probs[far].sum(dim=0).mean())


def test_slope_init_uses_wide_windows_from_the_start():
    """bitswin 0.1's init made a 32-wide window a +-5 kernel (every head peaked at one
    neighbour with slope 1); the slopes init keeps near-neighbour heads and flat ones."""
    window, heads = 32, 4
    old = initial_bias(window, heads, "neighbours")
    new = initial_bias(window, heads, "slopes")
    assert _mass_beyond(old, window, 5) < 0.01
    assert _mass_beyond(new, window, 5) > 0.2  # 0.22: half of the flat head, a quarter head
    assert head_slopes(4) == [1.0, 1.0, 0.25, 0.0]
    # The two slope-1 heads prefer the left and the right neighbour.
    centre = window - 1
    assert new[:, 0].argmax() == centre + 1 and new[:, 1].argmax() == centre - 1
