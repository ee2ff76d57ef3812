"""The byte baseline's two ways of computing its local band (one masked [L, L] product for short
sequences, neighbouring blocks for long ones) give the same outputs and gradients, and both
equal the band's definition computed query by query."""

from __future__ import annotations

import math

import pytest
import torch
from bitbaselines import byte_mlm
from bitbaselines.byte_mlm import ByteMLM
from bitbaselines.config import BYTE_PAD_ID, ByteMLMConfig

CONFIG = ByteMLMConfig(d_model=16, n_layers=1, n_heads=2, window=4, ffn_mult=2)


def _model() -> ByteMLM:
    torch.manual_seed(0)
    model = ByteMLM(CONFIG)
    with torch.no_grad():
        model.rel_bias.normal_()  # zeros at init would hide a misplaced bias
    return model


def _inputs(length: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(length)
    ids = torch.randint(0, 255, (2, length), generator=g)
    ids[1, -3:] = BYTE_PAD_ID  # padding at the end of one row
    segments = torch.zeros(2, length, dtype=torch.long)
    segments[0, length // 2 :] = 1  # a document boundary inside a window
    return ids, segments


def _definition(model: ByteMLM, ids: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
    """The band query by query: keys within ``window`` positions, in the query's segment, not
    padding unless the key is the query; softmax(q.k / sqrt(Dh) + bias[offset]) v."""
    W, H = CONFIG.window, CONFIG.n_heads
    B, L = ids.shape
    pad = ids == BYTE_PAD_ID
    cos, sin = byte_mlm.rotary_tables(L, CONFIG.d_model // H, ids.device)

    def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q, k = byte_mlm.apply_rotary(q, cos, sin), byte_mlm.apply_rotary(k, cos, sin)
        out = torch.zeros_like(q)
        for b in range(B):
            for i in range(L):
                keys = [
                    j
                    for j in range(max(0, i - W), min(L, i + W + 1))
                    if segments[b, j] == segments[b, i] and (not pad[b, j] or j == i)
                ]
                bias = model.rel_bias[:, [j - i + W for j in keys]]  # [H, K]
                scores = torch.einsum("hd,khd->hk", q[b, i], k[b, keys])
                weights = (scores / math.sqrt(q.shape[-1]) + bias).softmax(-1)
                out[b, i] = torch.einsum("hk,khd->hd", weights, v[b, keys])
        return out

    x = model.embed(ids)
    for block in model.blocks:
        x = block(x, attend)
    return model.head(model.norm(x))


@pytest.mark.parametrize("length", [3, 8, 13, 16, 21])  # 1 to 6 windows of 4, ragged ends
def test_full_and_banded_attention_equal_the_definition(length: int, monkeypatch) -> None:
    ids, segments = _inputs(length)
    results = {}
    for name, max_blocks in (("full", 100), ("banded", 0)):
        monkeypatch.setattr(byte_mlm, "FULL_BAND_MAX_BLOCKS", max_blocks)
        model = _model()
        _, logits = model(ids, segments)
        logits.square().mean().backward()
        results[name] = (logits.detach(), model.rel_bias.grad, model.blocks[0].qkv.weight.grad)
    model = _model()
    plain = _definition(model, ids, segments)
    plain.square().mean().backward()
    results["definition"] = (plain.detach(), model.rel_bias.grad, model.blocks[0].qkv.weight.grad)
    for name in ("full", "banded"):
        for got, want in zip(results[name], results["definition"], strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
