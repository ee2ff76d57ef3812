"""The byte baseline's rotary embedding and neighbour blocks equal the plain definitions bit for
bit, forward and backward (they were rewritten for speed; training must not notice)."""

from __future__ import annotations

import pytest
import torch
from bitbaselines.byte_mlm import _blocks_with_neighbours
from bitbaselines.layers import apply_rotary, rotary_tables


def _rotary_by_halves(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The definition: (x1, x2) -> (x1 cos - x2 sin, x1 sin + x2 cos), an odd last channel kept."""
    half = cos.shape[-1]
    x1, x2 = x[..., :half], x[..., half : 2 * half]
    c, s = cos[None, :, None, :].to(x.dtype), sin[None, :, None, :].to(x.dtype)
    return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c, x[..., 2 * half :]], dim=-1)


def _neighbours_by_slices(x: torch.Tensor, window: int) -> torch.Tensor:
    """The definition (and the code before): blocks j-1, j, j+1 side by side, zeros beyond the
    ends, as three shifted slices of the zero-padded blocks."""
    b, n = x.shape[:2]
    blocks = x.reshape(b, n // window, window, *x.shape[2:])
    zero = torch.zeros_like(blocks[:, :1])
    padded = torch.cat([zero, blocks, zero], dim=1)
    return torch.cat([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]], dim=2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("head_dim", [8, 7])
def test_rotary_equals_its_definition_forward_and_backward(dtype, head_dim) -> None:
    g = torch.Generator().manual_seed(head_dim)
    cos, sin = rotary_tables(12, head_dim, torch.device("cpu"))
    x = torch.randn(2, 12, 3, head_dim, generator=g).to(dtype).requires_grad_(True)
    grad = torch.randn(2, 12, 3, head_dim, generator=g).to(dtype)
    fast, plain = apply_rotary(x, cos, sin), _rotary_by_halves(x, cos, sin)
    assert torch.equal(fast, plain)
    (g_fast,) = torch.autograd.grad(fast, x, grad)
    (g_plain,) = torch.autograd.grad(plain, x, grad)
    assert torch.equal(g_fast, g_plain)


def test_neighbour_blocks_equal_their_definition_forward_and_backward() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 20, 3, 4, generator=g, requires_grad=True)  # 5 blocks of 4
    fast, plain = _blocks_with_neighbours(x, 4), _neighbours_by_slices(x, 4)
    assert fast.shape == (2, 5, 12, 3, 4) and torch.equal(fast, plain)
    grad = torch.randn(fast.shape, generator=g)
    (g_fast,) = torch.autograd.grad(fast, x, grad)
    (g_plain,) = torch.autograd.grad(plain, x, grad)
    assert torch.equal(g_fast, g_plain)
    flags = torch.rand(2, 20, generator=g) < 0.5  # the key mask: bool in, bool out
    blocks = _blocks_with_neighbours(flags.unsqueeze(-1), 4).squeeze(-1)
    assert blocks.dtype == torch.bool
    assert torch.equal(blocks, _neighbours_by_slices(flags.unsqueeze(-1), 4).squeeze(-1))
