"""The masks the masking ablations need: a hard-to-easy rate schedule, units at random places
with the same lengths (SpanBERT's control), units chosen by cohesion (PMI-style)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bitmask import (
    BitmaskError,
    Curriculum,
    MaskConfig,
    bigram_pmi,
    join_scores,
    make_masks,
)
from bitmask.placement import unit_lengths
from test_make_masks import STACKED, text_batch

# -- hard-to-easy rates ----------------------------------------------------------------------------


def test_rate_schedule_goes_from_the_rate_to_its_scaled_end():
    # Ankner et al.: 30% -> 15% over the run, here in a 1000-step run, byte level from step 0
    cfg = MaskConfig.for_steps(1000, byte_rate=0.3, rate_end_scale=0.5, byte_start=0.0,
                               ramp_from=1.0, word_start=None, phrase_start=None)  # fmt: skip
    cur = Curriculum(cfg)
    expect = {0: 0.3, 250: 0.2625, 500: 0.225, 999: 0.15015, 1000: 0.15, 5000: 0.15}
    for step, rate in expect.items():
        assert cur.at(step=step).rates["byte"] == pytest.approx(rate, abs=1e-12), step
        assert cur.at(step=step).rates["bit"] == pytest.approx(rate / 2, abs=1e-12), step
    assert cur.at(step=10).rates["word"] == cur.at(step=10).rates["phrase"] == 0.0
    # in epochs it is the same line over max_time epochs
    epochs = Curriculum(MaskConfig(byte_rate=0.3, rate_end_scale=0.5, byte_start=0.0,
                                   ramp_from=1.0))  # fmt: skip
    assert epochs.at(epoch=50).rates["byte"] == pytest.approx(0.225)


def test_rate_schedule_under_the_curriculum_ramp_caps_the_ramp():
    cur = Curriculum(MaskConfig(rate_end_scale=0.5))  # the seed's curriculum, caps halving
    assert cur.at(epoch=5).rates["byte"] == pytest.approx(0.15)  # the ramp is below the cap
    assert cur.at(epoch=60).rates["byte"] == pytest.approx(0.2 * 0.7)  # cap 0.14 < ramp
    assert cur.at(epoch=100).rates == pytest.approx(
        {"bit": 0.075, "byte": 0.1, "word": 0.125, "phrase": 0.15}
    )


def test_realised_rates_follow_the_schedule():
    cfg = MaskConfig.for_steps(1000, byte_rate=0.3, rate_end_scale=0.5, byte_start=0.0,
                               ramp_from=1.0, mix_bit=0.0, mix_byte=1.0,
                               word_start=None, phrase_start=None)  # fmt: skip
    data = text_batch(64, 512, seed=3)
    for step, rate in ((0, 0.3), (500, 0.225), (1000, 0.15)):
        out = make_masks(data, cfg, step=step, seed=1)
        assert (out.window_level == 1).all()  # byte masks only (mix_bit = 0)
        n = data.numel()
        sd = math.sqrt(rate * (1 - rate) / n)
        assert abs(out.mask_byte.float().mean().item() - rate) < 5 * sd


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate_end_scale": 0.0}, "rate_end_scale"),
        ({"unit_placement": "shuffled"}, "unit_placement"),
        ({"unit_choice": "pmi"}, "unit_choice"),
        ({"cohesion_strength": -1.0}, "cohesion_strength"),
    ],
)
def test_bad_new_fields_name_the_field(kwargs, match):
    with pytest.raises(BitmaskError, match=match):
        MaskConfig(**kwargs)


def test_existing_configs_do_not_change():
    data = text_batch(8, 128, seed=5)
    a = make_masks(data, epoch=50, seed=3)
    b = make_masks(data, MaskConfig(rate_end_scale=1.0, unit_placement="boundaries",
                                    unit_choice="uniform"), epoch=50, seed=3)  # fmt: skip
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.unit_start, b.unit_start)


# -- random placement --------------------------------------------------------------------------


def _runs(starts: torch.Tensor, valid: torch.Tensor) -> list[list[int]]:
    """Per row, the unit lengths in order (loop reference)."""
    out = []
    for s_row, v_row in zip(starts.tolist(), valid.tolist(), strict=True):
        lengths: list[int] = []
        for s, v in zip(s_row, v_row, strict=True):
            if not v:
                continue
            if s or not lengths:
                lengths.append(0)
            lengths[-1] += 1
        out.append(lengths)
    return out


@pytest.mark.parametrize("boundaries", ["whitespace", "class", "starts"])
def test_random_placement_keeps_each_rows_unit_lengths(boundaries):
    data = text_batch(32, 200, seed=8)
    bnd = boundaries
    if boundaries == "starts":
        bnd = torch.rand(32, 200, generator=torch.Generator().manual_seed(2)) < 0.3
    rates = {"word": 0.25}
    given = make_masks(data, STACKED, step=3, seed=4, rates=rates, boundaries=bnd)
    cfg = MaskConfig(level_mixture=False, unit_placement="random")
    placed = make_masks(data, cfg, step=3, seed=4, rates=rates, boundaries=bnd)
    valid = torch.ones(32, 200, dtype=torch.bool)
    before, after = _runs(given.unit_start, valid), _runs(placed.unit_start, valid)
    moved = 0
    for a, b in zip(before, after, strict=True):
        assert sorted(a) == sorted(b)  # the same lengths ...
        moved += a != b
    assert moved >= 28  # ... in another order, so at other places
    # the masks are still whole units, of the placed units, at the word rate
    ids = placed.unit_id
    for row in range(32):
        hidden = set(ids[row][placed.mask_word[row]].tolist())
        assert placed.mask_word[row][torch.isin(ids[row], torch.tensor(sorted(hidden)))].all()
    n_units = int(placed.unit_id.max(dim=1).values.add(1).sum())
    chosen = sum(len(set(placed.unit_id[r][placed.mask_word[r]].tolist())) for r in range(32))
    assert abs(chosen / n_units - 0.25) < 5 * math.sqrt(0.25 * 0.75 / n_units) + 0.02


def test_random_placement_with_padding_and_given_phrase_units():
    data = text_batch(8, 120, seed=1)
    pad = torch.zeros(8, 120, dtype=torch.bool)
    pad[:, 100:] = True
    pad[::2, 40:45] = True  # padding inside a row breaks it
    word = torch.rand(8, 120, generator=torch.Generator().manual_seed(3)) < 0.25
    phrase = torch.zeros(8, 120, dtype=torch.bool)
    phrase[:, ::15] = True
    cfg = MaskConfig(level_mixture=False, unit_placement="random")
    out = make_masks(data, cfg, step=0, rates={"word": 0.3, "phrase": 0.3}, pad_mask=pad,
                     boundaries=word, phrase_boundaries=phrase)  # fmt: skip
    assert not (out.mask_word & pad).any() and not (out.mask_phrase & pad).any()
    assert not torch.equal(out.unit_start, word & ~pad)
    valid = ~pad
    # lengths over the valid bytes: the given ones, cut again where padding breaks the row
    assert int(unit_lengths_sum(out, valid)) == int(valid.sum())
    again = make_masks(data, cfg, step=0, rates={"word": 0.3, "phrase": 0.3}, pad_mask=pad,
                       boundaries=word, phrase_boundaries=phrase)  # fmt: skip
    assert torch.equal(out.mask_phrase, again.mask_phrase)  # deterministic


def unit_lengths_sum(out, valid) -> int:
    from bitmask.units import Units

    count = out.unit_id.max(dim=1).values + 1
    units = Units(out.unit_start, out.unit_id, count,
                  torch.ones(valid.shape[0], int(count.max()), dtype=torch.bool))  # fmt: skip
    return int(unit_lengths(units, valid).sum())


# -- cohesion ------------------------------------------------------------------------------------


def test_bigram_pmi_is_the_pmi_of_byte_pairs():
    pmi = bigram_pmi([b"abab", b"ab"], smoothing=0.0 + 1e-12)
    # pairs: ab, ba, ab, ab -> p(ab) = 3/4, p(a first) = 3/4, p(b second) = 3/4
    assert pmi[ord("a"), ord("b")].item() == pytest.approx(math.log2(0.75 / (0.75 * 0.75)), 1e-5)
    assert pmi[ord("b"), ord("a")].item() == pytest.approx(math.log2(0.25 / (0.25 * 0.25)), 1e-5)
    with pytest.raises(BitmaskError, match="no byte pairs"):
        bigram_pmi([b"a"])
    data = torch.tensor([list(b"abba")], dtype=torch.uint8)
    join = join_scores(data, pmi, pad=torch.tensor([[False, False, True, False]]))
    assert join[0, 0] == 0 and join[0, 1] == pmi[ord("a"), ord("b")]
    assert join[0, 2] == 0 and join[0, 3] == 0  # nothing joins across padding


def _cohesion_case():
    data = text_batch(64, 256, seed=12)
    rows = [bytes(r) for r in data.numpy()]
    join = join_scores(data, bigram_pmi(rows))
    return data, join


def _unit_means(out, join):
    """Per chosen / not chosen maskable multi-character unit: its mean inner join score."""
    chosen, other = [], []
    for r in range(out.unit_id.shape[0]):
        ids = out.unit_id[r]
        for u in range(int(ids.max()) + 1):
            where = (ids == u).nonzero().flatten()
            inner = where[1:]
            if len(inner) == 0 or out.char_class[r, where].eq(3).all():
                continue
            value = join[r, inner].mean().item()
            (chosen if out.mask_word[r, where[0]] else other).append(value)
    return np.mean(chosen), np.mean(other), len(chosen), len(chosen) + len(other)


def test_cohesion_choice_hits_the_rate_and_prefers_cohesive_units():
    data, join = _cohesion_case()
    rates = {"word": 0.25}
    strong = MaskConfig(level_mixture=False, unit_choice="cohesion", cohesion_strength=3.0)
    out = make_masks(data, strong, step=1, seed=2, rates=rates, cohesion=join)
    uniform = make_masks(data, STACKED, step=1, seed=2, rates=rates)
    assert torch.equal(out.unit_start, uniform.unit_start)  # same units, other choice
    for masks in (out, uniform):
        maskable = 0
        picked = 0
        for r in range(64):
            ids = masks.unit_id[r]
            units = ids.max().item() + 1
            for u in range(units):
                sel = ids == u
                if (masks.char_class[r][sel] != 3).any():
                    maskable += 1
                    picked += bool(masks.mask_word[r][sel].any())
        assert abs(picked / maskable - 0.25) < 5 * math.sqrt(0.25 * 0.75 / maskable)
    chosen, other, _, _ = _unit_means(out, join)
    u_chosen, u_other, _, _ = _unit_means(uniform, join)
    assert chosen - other > 0.6  # cohesive units are preferred (mean PMI, bits) ...
    assert abs(u_chosen - u_other) < 0.25  # ... and a uniform choice does not prefer them
    zero = MaskConfig(level_mixture=False, unit_choice="cohesion", cohesion_strength=0.0)
    flat = make_masks(data, zero, step=1, seed=2, rates=rates, cohesion=join)
    z_chosen, z_other, _, _ = _unit_means(flat, join)
    assert abs(z_chosen - z_other) < 0.25  # strength 0: a uniform draw


def test_cohesion_on_given_phrase_units_and_errors():
    data, join = _cohesion_case()
    phrase = torch.zeros(64, 256, dtype=torch.bool)
    phrase[:, ::16] = True
    cfg = MaskConfig(level_mixture=False, unit_choice="cohesion")
    out = make_masks(data, cfg, step=0, rates={"phrase": 0.3}, phrase_boundaries=phrase,
                     cohesion=join)  # fmt: skip
    blocks = out.mask_phrase.reshape(64, 16, 16)
    assert torch.all(blocks.all(-1) | ~blocks.any(-1))  # whole phrase units
    share = blocks.all(-1).float().mean().item()
    assert abs(share - 0.3) < 5 * math.sqrt(0.3 * 0.7 / (64 * 16))
    with pytest.raises(BitmaskError, match="needs cohesion="):
        make_masks(data, cfg, step=0, rates={"word": 0.3})
    assert make_masks(data, cfg, step=0, rates={"byte": 0.3}).mask_byte.any()  # no unit level
    with pytest.raises(BitmaskError, match="cohesion has shape"):
        make_masks(data, cfg, step=0, rates={"word": 0.3}, cohesion=join[:, :10])
