"""Routers, forced starts, the cap, pooling / upsampling and the ratio loss."""

from __future__ import annotations

import pytest
import torch
from bitswin import BitSwinConfig
from bitswin.pooling import UnitPool, UnitUpsample, unit_index
from bitswin.routing import (
    Routing,
    byte_view,
    fixed_starts,
    hidden_run_starts,
    ratio_loss,
    route,
    segment_starts,
    spacelike_starts,
)
from helpers import bytes_to_bit_ids


def _bools(text: str) -> torch.Tensor:
    return torch.tensor([[c == "1" for c in text]])


def test_segment_starts_at_row_documents_and_after_padding():
    valid = _bools("1111001111")
    seg = torch.tensor([[0, 0, 1, 1, 1, 1, 1, 1, 2, 2]])
    assert segment_starts(valid, seg).tolist() == [
        [True, False, True, False, False, False, True, False, True, False]
    ]


def test_hidden_runs_get_starts_every_k_items_and_after():
    valid = _bools("1" * 16)
    hidden = _bools("0110111111100100")
    seg_start = _bools("1" + "0" * 15)
    forced = hidden_run_starts(hidden, valid, seg_start, every=3)
    # runs: [1, 2] (offsets 0 1, then 3 after), [4..10] (offsets 0 3 6, then 11 after); the
    # single hidden items 13 is not a run.
    expect = [1, 3, 4, 7, 10, 11]
    assert torch.nonzero(forced[0]).flatten().tolist() == expect


def test_fixed_stride_moves_past_disallowed_items():
    allowed = _bools("1111011111")
    seg_start = _bools("1000000000")
    starts = fixed_starts(allowed, seg_start, stride=4)
    assert torch.nonzero(starts[0]).flatten().tolist() == [0, 5, 8]  # 4 is disallowed -> 5


def test_spacelike_rule_and_hidden_bytes_are_unknown():
    text = "Hi, you (there) 你好"
    data = torch.tensor([list(text.encode())])
    starts = spacelike_starts(data, torch.ones_like(data, dtype=torch.bool))
    got = [i for i in range(data.shape[1]) if starts[0, i]]
    b = text.encode()
    assert [b[i : i + 1] for i in got] == [b"y", b"t", b"\xe4", b"\xe5"]
    known = torch.ones_like(data, dtype=torch.bool)
    known[0, 4] = False  # "y" hidden: its start is unknown
    assert not spacelike_starts(data, known)[0, 4]


def test_byte_view_reads_only_shown_bits():
    data = torch.tensor([list("aé".encode())])  # 0x61 0xC3 0xA9
    ids = bytes_to_bit_ids(data)
    view = byte_view(ids)
    assert view.continuation.tolist() == [[False, False, True]]
    ids[0, 16] = 2  # hide the leading 1 of the continuation byte: no longer known
    view = byte_view(ids)
    assert view.continuation.tolist() == [[False, False, False]]
    assert view.shown.tolist() == [[True, True, False]]


def _route(prob, valid, hidden=None, never=None, cap=1.5, target=2.0):
    config = BitSwinConfig(
        depths=(1, 1, 1),
        widths=(8, 8, 8),
        heads=(1, 1, 1),
        windows=(8, 2, 2),
        unit_targets=(target,),
        unit_cap=cap,
        masked_chunk=(2,),
    )
    hidden = torch.zeros_like(valid) if hidden is None else hidden
    return route(config, 0, prob, None, valid, None, hidden, never)


def test_router_forced_starts_cap_and_ste():
    prob = torch.tensor([[0.1, 0.9, 0.2, 0.7, 0.6, 0.95, 0.0, 0.8]], requires_grad=True)
    valid = _bools("11111111")
    never = _bools("00000100")  # item 5 is a continuation byte
    r = _route(prob, valid, never=never, cap=1.0, target=2.0)  # at most 4 starts
    assert r.forced[0].tolist()[0] and r.prob[0, 0] == 1.0  # row start forced
    assert r.prob[0, 5] == 0.0 and not r.starts[0, 5]  # never inside a character
    # Chosen: 0 (forced), 1, 3, 4, 7; cap 4 keeps the row start and the 3 most probable.
    assert torch.nonzero(r.chosen[0]).flatten().tolist() == [1, 3, 4, 7]
    assert torch.nonzero(r.starts[0]).flatten().tolist() == [0, 1, 3, 7]
    assert r.slots == 4
    assert torch.equal(r.ste.detach(), torch.ones_like(prob))  # 1 in value
    r.ste.sum().backward()
    grad = prob.grad[0].tolist()
    assert grad[1] == 1.0 and grad[2] == -1.0 and grad[4] == -1.0  # dropped start: -1
    assert grad[0] == 0.0 and grad[5] == 0.0  # forced / disallowed: no gradient


def test_cap_depends_on_the_row_only():
    prob = torch.full((2, 12), 0.9)
    valid = torch.ones(2, 12, dtype=torch.bool)
    valid[1, 6:] = False
    r = _route(prob, valid, cap=1.0, target=3.0)
    assert r.starts.sum(dim=1).tolist() == [4, 2]  # ceil(12 / 3), ceil(6 / 3)


def test_ratio_loss_is_one_at_the_target_and_pushes_towards_it():
    valid = torch.ones(1, 1000, dtype=torch.bool)
    forced = torch.zeros_like(valid)
    forced[0, 0] = True
    eligible = valid & ~forced

    def loss_at(rate: float, p: float) -> tuple[float, float]:
        prob = torch.full((1, 1000), p, requires_grad=True)
        chosen = torch.zeros_like(valid)
        chosen[0, 1 : 1 + round(rate * 999)] = True
        r = Routing(prob, chosen, chosen | forced, forced, eligible, valid, None, 1, 5.0)
        value = ratio_loss(r, valid)
        value.backward()
        return float(value.detach()), float(prob.grad.sum())

    at_target, _ = loss_at(199 / 999, 199 / 999)  # 200 starts / 1000 items = 1 per 5
    assert at_target == pytest.approx(1.0, abs=1e-3)
    too_many, grad_many = loss_at(0.5, 0.5)
    too_few, grad_few = loss_at(0.05, 0.05)
    assert too_many > 1.0 and too_few > 1.0
    assert grad_many > 0 and grad_few < 0  # descent lowers p when too many, raises when few


def test_pool_and_upsample_shapes_and_padding():
    torch.manual_seed(0)
    x = torch.randn(2, 10, 6, dtype=torch.float64)
    starts = _bools("1001000100").repeat(2, 1)
    valid = torch.ones(2, 10, dtype=torch.bool)
    valid[1, 7:] = False
    index = unit_index(starts, valid, slots=3)
    assert index.count.tolist() == [[3, 4, 3], [3, 4, 0]]
    assert index.first.tolist() == [[0, 3, 7], [0, 3, 0]]
    assert index.valid.tolist() == [[True, True, True], [True, True, False]]
    pool = UnitPool(6, 4, 1e-5).double()
    units = pool(x, index)
    assert units.shape == (2, 3, 4)
    assert not units[1, 2].any()  # an empty slot is zero
    # A unit depends only on its own items.
    y = x.clone()
    y[:, 7:] = 5.0
    assert torch.equal(pool(y, index)[:, :2], units[:, :2])
    up = UnitUpsample(4, 6).double()
    back = up(units, x, index, None)
    assert back.shape == x.shape
    torch.testing.assert_close(back[1, 7:], x[1, 7:])  # padding gets only its residual
    # Every item of a unit gets the same unit vector on top of its residual.
    delta = back - x
    torch.testing.assert_close(delta[0, 3], delta[0, 6])
