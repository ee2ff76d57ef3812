"""estimate_flops_per_byte (whole forward and units pass) against torch's FlopCounterMode."""

from __future__ import annotations

import pytest
import torch
from bitswin import (
    ROUTERS,
    BitSwinConfig,
    BitswinError,
    BitSwinModel,
    estimate_flops_per_byte,
    realised_flops_per_byte,
)
from helpers import make_targets, text_bytes
from torch.utils.flop_counter import FlopCounterMode


@pytest.mark.parametrize("router", ROUTERS)
@pytest.mark.parametrize("preset", ["tiny", "base", "large"])
def test_estimate_matches_the_flop_counter(preset, router):
    torch.manual_seed(0)
    config = getattr(BitSwinConfig, preset)(router=router)
    model = BitSwinModel(config).eval()
    n = 160
    data = text_bytes()[: 2 * n].reshape(2, n)
    hidden = torch.rand(data.shape, generator=torch.Generator().manual_seed(0)) < 0.15
    hidden[:, 40:60] = True
    targets = make_targets(data, hidden)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(targets.input_ids)
    estimate = realised_flops_per_byte(config, n, out.metrics)
    assert counter.get_total_flops() / (2 * n) == pytest.approx(estimate, rel=0.1)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        units = model.units(targets.input_ids)
    estimate = realised_flops_per_byte(config, n, units.metrics, units=True)
    assert counter.get_total_flops() / (2 * n) == pytest.approx(estimate, rel=0.1)


def test_defaults_are_upper_bounds_and_linear_in_length():
    config = BitSwinConfig.tiny()
    bound = estimate_flops_per_byte(config, 256)
    assert estimate_flops_per_byte(config, 256, bit_patterns_per_byte=0.1) < bound
    assert estimate_flops_per_byte(config, 256, unit_slots=(52, 18)) < bound
    assert estimate_flops_per_byte(config, 256, units=True) < bound
    assert estimate_flops_per_byte(config, 4096) == pytest.approx(
        estimate_flops_per_byte(config, 8192), rel=1e-2
    )
    with pytest.raises(BitswinError, match="bit_patterns_per_byte"):
        estimate_flops_per_byte(config, 256, bit_patterns_per_byte=2.0)
    with pytest.raises(BitswinError, match="unit_slots"):
        estimate_flops_per_byte(config, 256, unit_slots=(10,))
    with pytest.raises(BitswinError, match="seq_len_bytes"):
        estimate_flops_per_byte(config, 0)


def test_tiny_costs_under_0_7x_of_bitswin_0_1_at_realised_units():
    """bitswin 0.1's tiny training config (depths 1/1/1/1, widths 64/128/128/128, windows
    8/64/256/1024 bits) cost 2.99 MFLOP per byte at 256 bytes; at equal byte width (128) and
    the target unit lengths with a tenth of the bytes distinct the new tiny is under 0.7x."""
    config = BitSwinConfig.tiny()
    realised = estimate_flops_per_byte(
        config, 256, bit_patterns_per_byte=0.1, unit_slots=(round(1.2 * 256 / 5), 20)
    )
    assert realised <= 0.7 * 2.99e6
