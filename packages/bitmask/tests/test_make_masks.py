"""make_masks: exact agreement with the loop reference, rates, alignment, padding, reproducibility."""

from __future__ import annotations

import math

import bitmask
import bittokens as tokens
import numpy as np
import pytest
import torch
from bitmask import (
    IGNORE_INDEX,
    MASK_ID,
    PAD_ID,
    BitmaskError,
    CorruptionConfig,
    MaskConfig,
    make_masks,
)
from bitmask.levels import span_length_survival
from bitmask_reference import reference_masks
from hypothesis import given, settings
from hypothesis import strategies as st

FIELDS = (
    "input_ids",
    "bit_targets",
    "mask_bit",
    "mask_byte",
    "mask_word",
    "mask_phrase",
    "hidden_bits",
    "hidden_bytes",
    "replaced",
    "unit_start",
    "unit_id",
    "char_class",
    "utf8_role",
)
ALL_ON = {"bit": 0.15, "byte": 0.2, "word": 0.25, "phrase": 0.3}
STACKED = MaskConfig(level_mixture=False)  # every active level on every window
_WORDS = [
    "the",
    "of",
    "and",
    "a",
    "to",
    "in",
    "is",
    "was",
    "that",
    "for",
    "it",
    "with",
    "as",
    "on",
    "by",
    "我们",
    "中文",
    "语言",
    "模型",
    "学习",
    "比特",
    "的",
    "了",
    ",",
    ".",
    ";",
    "42",
]


def text_batch(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """uint8 [batch, length]: windows of English-and-Chinese-like text, cut anywhere."""
    rng = np.random.default_rng(seed)
    words = rng.choice(_WORDS, size=batch * length // 2)
    text = " ".join(words).encode()
    starts = rng.integers(0, len(text) - length, size=batch)
    rows = [np.frombuffer(text[s : s + length], dtype=np.uint8) for s in starts]
    return torch.from_numpy(np.stack(rows))


def test_token_ids_come_from_bitcodec():
    assert (bitmask.MASK_ID, bitmask.PAD_ID, bitmask.BIT0, bitmask.BIT1) == (
        tokens.MASK_ID,
        tokens.PAD_ID,
        tokens.BIT0,
        tokens.BIT1,
    )


# -- exact agreement with the loop-based NumPy reference --------------------------------------

_ALPHABET = np.frombuffer("ab c 中文,  x\t".encode(), dtype=np.uint8)


@st.composite
def cases(draw):
    batch = draw(st.integers(1, 3))
    length = draw(st.integers(1, 24))
    texty = draw(st.booleans())
    elements = st.sampled_from(_ALPHABET.tolist()) if texty else st.integers(0, 255)
    data = np.array(
        draw(st.lists(elements, min_size=batch * length, max_size=batch * length)), dtype=np.int64
    ).reshape(batch, length)
    pad = np.array(
        draw(st.lists(st.booleans(), min_size=batch * length, max_size=batch * length))
    ).reshape(batch, length) & draw(st.booleans())
    rates = {
        level: draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]))
        for level in ("bit", "byte", "word", "phrase")
    }
    kind = draw(st.sampled_from(["whitespace", "class", "scores", "starts"]))
    flags = st.lists(st.booleans(), min_size=batch * length, max_size=batch * length)
    if kind == "scores":
        values = st.lists(
            st.sampled_from([0.0, 0.5, 1.0, -2.0, 3.5]),
            min_size=batch * length,
            max_size=batch * length,
        )
        boundaries = np.array(draw(values), dtype=np.float32).reshape(batch, length)
    elif kind == "starts":
        boundaries = np.array(draw(flags), dtype=bool).reshape(batch, length)
    else:
        boundaries = kind
    phrase_boundaries = (
        np.array(draw(flags), dtype=bool).reshape(batch, length) if draw(st.booleans()) else None
    )
    corruption = draw(
        st.sampled_from(
            [
                None,
                CorruptionConfig(bert=True),
                CorruptionConfig(replace_rate=0.4),
                CorruptionConfig(replace_rate=0.4, replace_unit="unit", replace_source="batch"),
                CorruptionConfig(bert=True, bert_mask=0.5, bert_random=0.3, replace_rate=0.2),
            ]
        )
    )
    return {
        "data": data,
        "pad": pad,
        "rates": rates,
        "boundaries": boundaries,
        "corruption": corruption,
        "seed": draw(st.integers(0, 2**32)),
        "step": draw(st.none() | st.integers(0, 10**6)),
        "epoch": draw(st.sampled_from([0, 3, 41.5])),
        "sample_index": draw(st.lists(st.integers(0, 10**9), min_size=batch, max_size=batch)),
        "span": draw(st.sampled_from([(0.2, 10), (0.5, 3), (1.0, 1)])),
        "target": draw(st.sampled_from([1.0, 2.5, 5.0])),
        "mask_space_units": draw(st.booleans()),
        "phrase_boundaries": phrase_boundaries,
        "mixture": draw(
            st.sampled_from(
                [None, (0.1, 0.5, 0.2, 0.2), (0.0, 1.0, 0.0, 3.0), (0.0, 0.0, 0.0, 1.0)]
            )
        ),
    }


@settings(max_examples=80, deadline=None)
@given(cases())
def test_equals_loop_reference(case):
    span_p, span_cap = case["span"]
    mix = case["mixture"]
    weights = {} if mix is None else dict(zip(("bit", "byte", "word", "phrase"), mix, strict=True))
    config = MaskConfig(
        span_p=span_p,
        span_cap=span_cap,
        target_unit_bytes=case["target"],
        mask_space_units=case["mask_space_units"],
        level_mixture=mix is not None,
        **{f"mix_{k}": v for k, v in weights.items()},
    )
    boundaries = case["boundaries"]
    phrase = case["phrase_boundaries"]
    got = make_masks(
        torch.from_numpy(case["data"]),
        config,
        epoch=case["epoch"],
        step=case["step"],
        seed=case["seed"],
        sample_index=torch.tensor(case["sample_index"]),
        pad_mask=torch.from_numpy(case["pad"]),
        boundaries=boundaries if isinstance(boundaries, str) else torch.from_numpy(boundaries),
        rates=case["rates"],
        corruption=case["corruption"],
        phrase_boundaries=None if phrase is None else torch.from_numpy(phrase),
    )
    want = reference_masks(
        case["data"],
        case["rates"],
        seed=case["seed"],
        epoch=case["epoch"],
        step=case["step"],
        sample_index=case["sample_index"],
        pad=case["pad"],
        boundaries=boundaries,
        target_unit_bytes=case["target"],
        span_p=span_p,
        span_cap=span_cap,
        mask_space_units=case["mask_space_units"],
        corruption=case["corruption"],
        phrase_boundaries=phrase,
        mixture=weights or None,
    )
    for name in (*FIELDS, "window_level"):
        assert getattr(got, name).tolist() == want[name].tolist(), name
    assert got.byte_targets.tolist() == case["data"].tolist()


def test_predicted_replacements_equal_reference():
    data = text_batch(2, 40, seed=3).long()
    logits = torch.zeros(2, 40, 256)
    favourite = (data + 1) % 256  # a sharply peaked "generator": always the next byte value
    logits.scatter_(2, favourite[..., None], 40.0)
    corruption = CorruptionConfig(replace_rate=0.5, replace_source="predictions")
    got = make_masks(
        data,
        STACKED,
        rates=ALL_ON,
        step=1,
        corruption=corruption,
        replacement_logits=logits,
    )
    want = reference_masks(
        data.numpy(), ALL_ON, step=1, corruption=corruption, replacement_logits=logits.numpy()
    )
    for name in FIELDS:
        assert getattr(got, name).tolist() == want[name].tolist(), name
    shown = got.replaced & ~got.predict_bytes
    assert shown.any()
    # each replaced byte is shown as the generator's favourite where its bits are visible
    ids = got.input_ids.reshape(2, 40, 8)
    fav_bits = (favourite[..., None] >> torch.arange(7, -1, -1)) & 1
    visible = ids != MASK_ID
    assert torch.equal(ids[shown][visible[shown]], fav_bits[shown][visible[shown]])


# -- statistics ----------------------------------------------------------------------------------


def _unit_fraction(mask: torch.Tensor, unit_id: torch.Tensor, eligible: torch.Tensor | None = None):
    """Fraction of (eligible) units whose bytes are masked, with the number of units."""
    batch = mask.shape[0]
    units = int(unit_id.max()) + 2
    hit = torch.zeros(batch, units, dtype=torch.long).scatter_add_(1, unit_id + 1, mask.long())
    size = torch.zeros(batch, units, dtype=torch.long).scatter_add_(
        1, unit_id + 1, torch.ones_like(unit_id)
    )
    exists = size[:, 1:] > 0
    if eligible is not None:
        exists &= eligible
    chosen = (hit[:, 1:] > 0) & exists
    # whole units: either every byte of a unit is masked or none
    assert torch.all((hit[:, 1:] == 0) | (hit[:, 1:] == size[:, 1:]))
    return chosen.sum().item() / exists.sum().item(), exists.sum().item()


def _non_space_units(batch) -> torch.Tensor:
    non_space = ((batch.char_class != 3) & ~batch.pad).long()
    units = int(batch.unit_id.max()) + 2
    held = torch.zeros(batch.pad.shape[0], units, dtype=torch.long)
    held.scatter_add_(1, batch.unit_id + 1, non_space)
    return held[:, 1:] > 0


@pytest.mark.parametrize(
    "rates",
    [
        ALL_ON,
        {"bit": 0.05, "byte": 0.1, "word": 0.15, "phrase": 0.2},
        {"bit": 0.2, "byte": 0.3, "word": 0.35, "phrase": 0.4},
    ],
)
@pytest.mark.parametrize("boundaries", ["whitespace", "class", "scores"])
def test_realised_rates_match_configured(rates, boundaries):
    data = text_batch(64, 512, seed=11)
    pad = torch.zeros(64, 512, dtype=torch.bool)
    pad[::4, 400:] = True  # some rows end early
    bnd = (
        torch.rand(64, 512, generator=torch.Generator().manual_seed(1))
        if boundaries == "scores"
        else boundaries
    )
    out = make_masks(data, STACKED, step=7, seed=5, rates=rates, pad_mask=pad, boundaries=bnd)
    valid = ~pad

    def within(realised: float, rate: float, n: float, design: float = 1.0) -> None:
        sd = math.sqrt(rate * (1 - rate) * design / n)
        assert abs(realised - rate) < 5 * sd + 1e-4, (realised, rate, n)

    n_bits = valid.sum().item() * 8
    within(out.mask_bit.sum().item() / n_bits, rates["bit"], n_bits)
    within(out.mask_byte.sum().item() / valid.sum().item(), rates["byte"], valid.sum().item())
    word, n_word = _unit_fraction(out.mask_word, out.unit_id, _non_space_units(out))
    within(word, rates["word"], n_word)
    phrase, n_units = _unit_fraction(out.mask_phrase, out.unit_id)
    mean_span = sum(span_length_survival(0.2, 10))
    within(phrase, rates["phrase"], n_units, design=2 * mean_span)  # spans correlate units


def test_phrase_masks_are_runs_of_units_with_geometric_spans():
    data = text_batch(64, 512, seed=2)
    out = make_masks(data, rates={"phrase": 0.3}, step=0)
    # run lengths in units of the phrase mask: spans merge, so runs are at least span-long
    covered = torch.zeros(64, 600, dtype=torch.bool)
    covered.scatter_(1, out.unit_id.clamp_min(0), out.mask_phrase)
    runs, current = [], 0
    for row in covered.tolist():
        for value in [*row, False]:
            if value:
                current += 1
            elif current:
                runs.append(current)
                current = 0
    mean_run = sum(runs) / len(runs)
    assert mean_run > sum(span_length_survival(0.2, 10)) * 0.9  # ~4.4 units per span, merged
    single = make_masks(data, MaskConfig(span_p=1.0, span_cap=1), rates={"phrase": 0.3}, step=0)
    assert single.mask_phrase.any()  # cap 1: isolated units, still whole units
    _unit_fraction(single.mask_phrase, single.unit_id)


def test_score_boundaries_hold_the_target_unit_length():
    data = text_batch(16, 256, seed=4)
    for target in (2.0, 5.0, 12.0):
        for scores in (torch.randn(16, 256), torch.zeros(16, 256), torch.randn(16, 256) * 1e6):
            out = make_masks(
                data,
                MaskConfig(target_unit_bytes=target),
                rates={"word": 0.25},
                step=0,
                boundaries=scores,
            )
            per_row = out.unit_start.sum(dim=1)
            wanted = round(256 / target)
            assert torch.all((per_row >= wanted) & (per_row <= wanted + 1))


# -- alignment, padding, inactive levels -----------------------------------------------------------


def test_alignment_and_padding():
    data = text_batch(8, 128, seed=6)
    pad = torch.zeros(8, 128, dtype=torch.bool)
    pad[1, 100:] = True
    pad[2, :10] = True
    pad[3, 50:60] = True
    out = make_masks(data, epoch=100, pad_mask=pad, seed=1)
    pad_bits = pad.repeat_interleave(8, dim=1)
    assert torch.equal(out.input_ids == PAD_ID, pad_bits)  # PAD on all 8 bits, nowhere else
    for name in ("mask_byte", "mask_word", "mask_phrase", "hidden_bytes", "replaced", "unit_start"):
        assert not getattr(out, name)[pad].any(), name
    assert not out.mask_bit[pad_bits].any() and not out.hidden_bits[pad_bits].any()
    assert (out.utf8_role[pad] == IGNORE_INDEX).all() and (
        out.char_class[pad] == IGNORE_INDEX
    ).all()
    assert (out.unit_id[pad] == -1).all()
    # a hidden byte is MASK on all 8 bits; hidden bits are exactly the MASK ids
    ids = out.input_ids.reshape(8, 128, 8)
    assert (ids[out.hidden_bytes] == MASK_ID).all()
    assert torch.equal(out.input_ids == MASK_ID, out.hidden_bits)
    assert torch.equal(out.hidden_bytes, out.mask_byte | out.mask_word | out.mask_phrase)
    visible = ~out.hidden_bits & ~pad_bits
    assert torch.equal(out.input_ids[visible], out.bit_targets[visible])
    _unit_fraction(out.mask_word, out.unit_id)
    _unit_fraction(out.mask_phrase, out.unit_id)
    # units restart after padding
    assert out.unit_start[2, 10] and out.unit_start[3, 60]


def test_inactive_levels_give_empty_masks():
    data = text_batch(4, 64)
    for epoch, active in ((0, 1), (5, 2), (14, 2), (15, 3), (29.9, 3), (30, 4)):
        out = make_masks(data, STACKED, epoch=epoch)
        assert out.phase == active
        assert out.mask_bit.any()
        assert out.mask_byte.any() == (active >= 2)
        assert out.mask_word.any() == (active >= 3)
        assert out.mask_phrase.any() == (active >= 4)
    off = make_masks(data, rates={})
    assert off.phase == 1 and not off.hidden_bits.any() and not off.replaced.any()


def test_level_mixture_masks_each_window_with_one_active_level():
    data = text_batch(256, 128, seed=4)
    out = make_masks(data, epoch=50, seed=2)  # all four levels on
    level = out.window_level
    assert set(level.tolist()) == {0, 1, 2, 3}
    masks = [
        out.mask_bit.reshape(256, 128, 8).any(-1),
        out.mask_byte,
        out.mask_word,
        out.mask_phrase,
    ]
    for i, mask in enumerate(masks):
        assert not mask[level != i].any()  # a level masks only the windows that drew it
        assert mask[level == i].any()
    shares = torch.bincount(level, minlength=4).float() / 256
    cfg = MaskConfig()
    weights = torch.tensor([cfg.mix_bit, cfg.mix_byte, cfg.mix_word, cfg.mix_phrase])
    expect = weights / weights.sum()
    assert torch.all((shares - expect).abs() < 5 * (expect * (1 - expect) / 256).sqrt())
    # The mixture keeps a window's hidden fraction near evaluation's, stacking does not.
    stacked = make_masks(data, STACKED, epoch=50, seed=2)
    assert out.hidden_bytes.float().mean() < 0.25 < 0.5 < stacked.hidden_bytes.float().mean()
    # window_levels tells it before the masks are made (e.g. to compute units only there).
    index = torch.arange(256) + 1000
    again = make_masks(data, epoch=50, seed=2, sample_index=index)
    ahead = bitmask.window_levels(256, epoch=50, seed=2, sample_index=index)
    assert torch.equal(ahead, again.window_level)
    # Warm-up: the bit level alone, nothing to draw.
    warm = make_masks(data, epoch=0, seed=2)
    assert (warm.window_level == -1).all() and warm.mask_bit.any()


def test_given_unit_starts_define_word_and_phrase_units():
    data = text_batch(32, 96, seed=6)
    word = torch.zeros(32, 96, dtype=torch.bool)
    word[:, ::4] = True  # units of 4 bytes
    phrase = torch.zeros(32, 96, dtype=torch.bool)
    phrase[:, ::12] = True  # phrase units of 3 word units
    out = make_masks(
        data,
        STACKED,
        rates={"word": 0.3, "phrase": 0.3},
        step=0,
        boundaries=word,
        phrase_boundaries=phrase,
    )
    assert torch.equal(out.unit_start, word)
    assert torch.equal(out.unit_id, torch.arange(96).expand(32, 96) // 4)
    for mask, size in ((out.mask_word, 4), (out.mask_phrase, 12)):
        blocks = mask.reshape(32, 96 // size, size)
        assert torch.all(blocks.all(-1) | ~blocks.any(-1))  # whole given units
        assert mask.any()
    with pytest.raises(BitmaskError, match="phrase_boundaries"):
        make_masks(data, rates={"phrase": 0.3}, step=0, phrase_boundaries=phrase.float())


# -- reproducibility -----------------------------------------------------------------------------


def test_deterministic_and_seed_step_sensitive():
    data = text_batch(4, 96)
    a = make_masks(data, epoch=50, seed=3)
    b = make_masks(data.clone(), epoch=50, seed=3)
    for name in FIELDS:
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.hidden_bits, make_masks(data, epoch=50, seed=4).hidden_bits)
    assert not torch.equal(a.hidden_bits, make_masks(data, epoch=50, step=1, seed=3).hidden_bits)
    # uint8 and long inputs are the same batch
    assert torch.equal(a.input_ids, make_masks(data.long(), epoch=50, seed=3).input_ids)


def test_sample_masks_do_not_depend_on_the_batch():
    data = text_batch(6, 80, seed=9)
    corruption = CorruptionConfig(bert=True, replace_rate=0.2)
    full = make_masks(
        data, epoch=60, seed=2, sample_index=torch.arange(100, 106), corruption=corruption
    )
    # sample 103 alone, and in another batch with different neighbours and longer rows
    alone = make_masks(
        data[3:4], epoch=60, seed=2, sample_index=torch.tensor([103]), corruption=corruption
    )
    wider = torch.cat([data[[5, 3, 0]], torch.zeros(3, 20, dtype=torch.uint8)], dim=1)
    pad = torch.zeros(3, 100, dtype=torch.bool)
    pad[:, 80:] = True
    other = make_masks(
        wider,
        epoch=60,
        seed=2,
        sample_index=torch.tensor([7, 103, 8]),
        pad_mask=pad,
        corruption=corruption,
    )
    for name in FIELDS:
        mine = getattr(full, name)[3]
        assert torch.equal(getattr(alone, name)[0], mine), name
        width = mine.shape[0]
        assert torch.equal(getattr(other, name)[1][:width], mine), name
    # ranks: different global indices give different masks
    assert not torch.equal(
        full.hidden_bits[0], make_masks(data[:1], epoch=60, seed=2).hidden_bits[0]
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_equals_cpu():
    data = text_batch(8, 256, seed=1)
    pad = torch.zeros(8, 256, dtype=torch.bool)
    pad[2, 200:] = True
    scores = torch.randn(8, 256)
    corruption = CorruptionConfig(bert=True, replace_rate=0.15, replace_unit="unit")
    for boundaries in ("whitespace", "class", scores):
        cpu = make_masks(
            data, epoch=70, seed=9, pad_mask=pad, boundaries=boundaries, corruption=corruption
        )
        gpu = make_masks(
            data.cuda(),
            epoch=70,
            seed=9,
            pad_mask=pad.cuda(),
            boundaries=boundaries if isinstance(boundaries, str) else boundaries.cuda(),
            corruption=corruption,
        )
        assert gpu.input_ids.is_cuda
        for name in FIELDS:
            assert torch.equal(getattr(gpu, name).cpu(), getattr(cpu, name)), name


# -- corruption ------------------------------------------------------------------------------------


def test_bert_80_10_10_fractions_and_targets():
    data = text_batch(64, 512, seed=12)
    out = make_masks(data, rates={"byte": 0.3}, step=3, corruption=CorruptionConfig(bert=True))
    selected = out.predict_bytes
    n = selected.sum().item()
    as_mask = out.hidden_bytes.sum().item() / n
    assert abs(as_mask - 0.8) < 0.02
    assert not (out.hidden_bytes & ~selected).any()
    assert torch.equal(out.predict_bytes, out.mask_byte)
    changed = out.replaced.sum().item() / n  # random byte differs from the truth 255/256 times
    assert abs(changed - 0.1 * 255 / 256) < 0.015
    assert torch.equal(out.byte_targets, data.long())  # targets stay the truth
    assert torch.equal(out.predict_bits, out.mask_bit | selected.repeat_interleave(8, dim=1))


@pytest.mark.parametrize("source", ["row", "batch"])
@pytest.mark.parametrize("unit", ["byte", "unit"])
def test_electra_replacements(source, unit):
    data = text_batch(32, 256, seed=13)
    cfg = CorruptionConfig(replace_rate=0.15, replace_source=source, replace_unit=unit)
    out = make_masks(data, epoch=100, seed=4, corruption=cfg)
    shown = ~out.predict_bytes & ~out.pad
    assert not (out.replaced & ~shown).any()  # hidden bytes are never "replaced"
    frac = out.replaced.sum().item() / shown.sum().item()
    # 15% picked, minus replacements that drew the true byte; whole units vary more
    low, high = (0.1, 0.155) if unit == "byte" else (0.08, 0.2)
    assert low < frac < high, frac
    ids = out.input_ids.reshape(32, 256, 8)
    truth = out.bit_targets.reshape(32, 256, 8)
    differs = ((ids != truth) & (ids != MASK_ID)).any(dim=2)
    assert torch.equal(differs, out.replaced)
    # replacements come from the text's own byte distribution: nothing the text never holds
    present = torch.zeros(256, dtype=torch.bool)
    present[data.long().flatten()] = True
    shown_bytes = (ids.clamp_max(1) * (1 << torch.arange(7, -1, -1))).sum(dim=2)
    full = out.replaced & ~(ids == MASK_ID).any(dim=2)
    assert present[shown_bytes[full]].all()


def test_no_corruption_means_nothing_replaced():
    out = make_masks(text_batch(8, 128), epoch=100)
    assert not out.replaced.any()
    assert torch.equal(out.predict_bytes, out.hidden_bytes)


# -- input checking ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"byte_batch": np.zeros((2, 3), np.uint8)}, "torch tensor"),
        ({"byte_batch": torch.zeros(5, dtype=torch.uint8)}, "2-D"),
        ({"byte_batch": torch.zeros(2, 3)}, "dtype"),
        ({"byte_batch": torch.full((2, 3), 300)}, "0..255"),
        ({"pad_mask": torch.zeros(2, 4, dtype=torch.bool)}, "pad_mask"),
        ({"sample_index": torch.arange(3)}, "sample_index"),
        ({"boundaries": "spaces"}, "boundaries"),
        ({"boundaries": torch.zeros(2, 4)}, "boundary scores"),
        ({"boundaries": torch.full((2, 3), float("nan"))}, "NaN"),
        ({"rates": {"char": 0.1}}, "unknown level"),
        ({"rates": {"bit": 1.5}}, "rate"),
        ({"epoch": None}, "epoch"),
        (
            {"corruption": CorruptionConfig(replace_rate=0.1, replace_source="predictions")},
            "replacement_logits",
        ),
    ],
)
def test_bad_input_raises_bitmask_error(kwargs, match):
    args = {"byte_batch": torch.zeros(2, 3, dtype=torch.uint8), "epoch": 40, **kwargs}
    with pytest.raises(BitmaskError, match=match):
        make_masks(args.pop("byte_batch"), **args)


def test_to_device_and_level_mask():
    out = make_masks(text_batch(2, 16), epoch=40)
    moved = out.to("cpu")
    assert torch.equal(moved.input_ids, out.input_ids) and moved.phase == out.phase
    assert moved.level_mask("word") is moved.mask_word
    assert out.rates == {"bit": 0.15, "byte": 0.2, "word": 0.25, "phrase": 0.25}


@pytest.mark.parametrize("shape", [(0, 5), (2, 0)])
@pytest.mark.parametrize("boundaries", ["whitespace", "class", "scores"])
def test_empty_batches(shape, boundaries):
    bnd = torch.zeros(shape) if boundaries == "scores" else boundaries
    corruption = CorruptionConfig(bert=True, replace_rate=0.2)
    out = make_masks(
        torch.zeros(shape, dtype=torch.uint8), epoch=50, boundaries=bnd, corruption=corruption
    )
    assert out.input_ids.shape == (shape[0], 8 * shape[1]) and out.unit_id.shape == shape


def test_char_byte_masks_hide_whole_characters():
    """byte_unit="char": a character is hidden whole or not at all, drawn at its first byte (so
    its first byte is hidden exactly as under byte_unit="byte"), at about the rate per
    character; bytes of broken UTF-8 are characters of their own."""
    text = ("共同创造美好的新世纪 a é 𝄞 " * 40).encode() + b"\xff\x80ab"
    data = torch.tensor(list(text), dtype=torch.uint8)[None].repeat(8, 1)
    rates = {"byte": 0.3}
    by_char = make_masks(data, MaskConfig(byte_unit="char"), step=3, rates=rates).mask_byte
    by_byte = make_masks(data, MaskConfig(), step=3, rates=rates).mask_byte
    first = torch.tensor([(b & 0xC0) != 0x80 for b in text])[None].expand_as(by_char).clone()
    first[:, -3] = True  # 0x80 after 0xff continues nothing: a character of its own
    char_id = torch.cumsum(first.long(), dim=1)
    for row in range(data.shape[0]):
        for c in torch.unique(char_id[row]).tolist():
            hidden = by_char[row][char_id[row] == c]
            assert bool(hidden.all()) or not bool(hidden.any())
    assert torch.equal(by_char[first], by_byte[first])
    assert by_char[first].float().mean().item() == pytest.approx(0.3, abs=0.03)
    assert by_char[~first].any()  # continuation bytes follow their characters
    with pytest.raises(BitmaskError, match="byte_unit"):
        MaskConfig(byte_unit="word")
