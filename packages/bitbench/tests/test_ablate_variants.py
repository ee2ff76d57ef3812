"""The shipped masking grid's variants, through the trainer's own config path: each variant's
curriculum gives the rates its note states at given steps, and its masks hit those rates."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bitbench.ablation import load_grid
from bitbench.ablation.training import build_config
from bitmask import Curriculum, bigram_pmi, join_scores, make_masks
from bittrain.fixtures import sample_documents
from bittrain.tasks.bitswin_config import mask_config
from bittrain.trainer.setup import task_spec

GRID = load_grid("default")
STEPS = 1000  # the run's steps (the curriculum is laid over them)
BIT, BYTE, WORD, PHRASE = 0, 1, 2, 3  # MaskedBatch.window_level


def variant_mask(name: str, tmp_path):
    """The MaskConfig a run of the grid trains with (the bitswin task's own recipe)."""
    run = next(r for r in GRID.runs if r.name == name)
    cfg = build_config(GRID, {**GRID.base, **run.overrides, "seed": 0}, tmp_path / name, "c.zarr")
    spec = task_spec(cfg, None, total_steps=STEPS)
    return mask_config(spec, spec.options, STEPS)


# (variant, step, {level: rate}) as the grid's notes state them
SCHEDULES = [
    ("bytes_only", 0, {"byte": 0.15}),
    ("bytes_only", STEPS, {"byte": 0.15}),
    ("curriculum", 0, {"bit": 0.15, "byte": 0.0, "word": 0.0, "phrase": 0.0}),
    ("curriculum", 49, {"byte": 0.0}),  # byte from 5% of the run, word 15%, phrase 30%
    ("curriculum", 50, {"byte": 0.15, "word": 0.0}),
    ("curriculum", 100, {"byte": 0.20, "word": 0.0}),  # + 0.01 per 1% of the run, to its rate
    ("curriculum", 150, {"word": 0.15, "phrase": 0.0}),
    ("curriculum", 300, {"word": 0.25, "phrase": 0.15}),
    ("curriculum", 450, {"bit": 0.15, "byte": 0.2, "word": 0.25, "phrase": 0.30}),
    ("mixture", 0, {"bit": 0.15, "byte": 0.2, "word": 0.25, "phrase": 0.30}),
    ("mixture", STEPS, {"bit": 0.15, "byte": 0.2, "word": 0.25, "phrase": 0.30}),
    ("bytes_hard_to_easy", 0, {"byte": 0.30}),
    ("bytes_hard_to_easy", STEPS // 2, {"byte": 0.225}),
    ("bytes_hard_to_easy", STEPS, {"byte": 0.15}),
    ("mixture_random_spans", 0, {"byte": 0.2, "word": 0.25, "phrase": 0.30}),
    ("mixture_cohesion", 0, {"byte": 0.2, "word": 0.25, "phrase": 0.30}),
]


@pytest.mark.parametrize(("name", "step", "rates"), SCHEDULES)
def test_each_variants_schedule_is_what_the_grid_says(name, step, rates, tmp_path):
    state = Curriculum(variant_mask(name, tmp_path)).at(step=step)
    for level, rate in rates.items():
        assert state.rates[level] == pytest.approx(rate), (name, step, level)


def test_variants_differ_only_in_what_their_notes_say(tmp_path):
    mixture = variant_mask("mixture", tmp_path).to_dict()
    for name, field, value in (("mixture_random_spans", "unit_placement", "random"),
                               ("mixture_cohesion", "unit_choice", "cohesion")):  # fmt: skip
        other = variant_mask(name, tmp_path).to_dict()
        assert other[field] == value and {**other, field: mixture[field]} == mixture
    for name in ("bytes_only", "bytes_hard_to_easy"):
        mask = variant_mask(name, tmp_path)
        assert [mask.mix_weight(level) for level in ("bit", "byte", "word", "phrase")] == [
            0,
            1,
            0,
            0,
        ]


@pytest.fixture(scope="module")
def text_rows():
    """64 windows of 256 bytes of the project's sample English."""
    data = b" ".join(sample_documents(200, seed=3))
    rows = np.frombuffer(data[: 64 * 256], dtype=np.uint8).reshape(64, 256)
    return torch.from_numpy(rows.copy())


def _unit_fraction(masks, rows: torch.Tensor, field: str) -> float:
    """Share of the maskable (not all-whitespace) units of ``rows`` that ``field`` touches."""
    picked = maskable = 0
    for r in rows.tolist():
        ids = masks.unit_id[r]
        for u in range(int(ids.max()) + 1):
            sel = ids == u
            if (masks.char_class[r][sel] != 3).any():
                maskable += 1
                picked += bool(getattr(masks, field)[r][sel].any())
    return picked / max(maskable, 1)


def _close(value: float, rate: float, n: int) -> bool:
    return abs(value - rate) < 5 * math.sqrt(rate * (1 - rate) / max(n, 1)) + 1e-9


@pytest.mark.parametrize(
    ("name", "step", "rate"),
    [("bytes_only", 0, 0.15), ("bytes_only", STEPS, 0.15), ("bytes_hard_to_easy", 0, 0.30),
     ("bytes_hard_to_easy", STEPS // 2, 0.225), ("bytes_hard_to_easy", STEPS, 0.15)],
)  # fmt: skip
def test_byte_variants_hide_their_stated_share_of_bytes(name, step, rate, text_rows, tmp_path):
    masks = make_masks(text_rows, variant_mask(name, tmp_path), step=step, boundaries="whitespace")
    assert (masks.window_level == BYTE).all()
    assert not masks.mask_bit.any() and not masks.mask_word.any() and not masks.mask_phrase.any()
    share = masks.mask_byte.float().mean().item()
    assert _close(share, rate, text_rows.numel()), (name, step, share)


def test_the_curriculum_masks_only_bits_before_its_byte_phase(text_rows, tmp_path):
    masks = make_masks(text_rows, variant_mask("curriculum", tmp_path), step=10,
                       boundaries="whitespace")  # fmt: skip
    assert not masks.hidden_bytes.any() and not masks.mask_byte.any()  # one level: bits
    assert _close(masks.mask_bit.float().mean().item(), 0.15, 8 * text_rows.numel())


@pytest.mark.parametrize("name", ["mixture", "mixture_random_spans", "mixture_cohesion"])
def test_unit_variants_hit_their_rates_per_window_level(name, text_rows, tmp_path):
    mask = variant_mask(name, tmp_path)
    cohesion = None
    if mask.unit_choice == "cohesion":
        cohesion = join_scores(text_rows, bigram_pmi(list(text_rows.numpy())))
    masks = make_masks(text_rows, mask, step=0, boundaries="whitespace", cohesion=cohesion)
    levels = masks.window_level
    assert set(levels.tolist()) == {BIT, BYTE, WORD, PHRASE}  # every level has windows
    share = {lv: (levels == lv).float().mean().item() for lv in (BIT, BYTE, WORD, PHRASE)}
    for lv, weight in ((BIT, 0.1), (BYTE, 0.5), (WORD, 0.2), (PHRASE, 0.2)):
        assert _close(share[lv], weight, levels.numel()), (lv, share)
    byte_rows = levels == BYTE
    assert _close(masks.mask_byte[byte_rows].float().mean().item(), 0.2,
                  int(byte_rows.sum()) * text_rows.shape[1])  # fmt: skip
    word_rows = torch.nonzero(levels == WORD).flatten()
    if mask.unit_placement == "random":  # same lengths, other places: a share of the bytes
        own = make_masks(text_rows, variant_mask("mixture", tmp_path), step=0,
                         boundaries="whitespace")  # fmt: skip
        ratio = masks.mask_word.float().mean() / own.mask_word.float().mean()
        assert 0.6 < ratio.item() < 1.6
        starts = masks.mask_word[:, 1:] & ~masks.mask_word[:, :-1]
        at_space = (text_rows[:, :-1] == ord(" ")) & starts  # a span starting after a space
        own_starts = own.mask_word[:, 1:] & ~own.mask_word[:, :-1]
        own_at_space = (text_rows[:, :-1] == ord(" ")) & own_starts
        assert at_space.sum() / starts.sum() < own_at_space.sum() / own_starts.sum()
    else:
        assert _close(_unit_fraction(masks, word_rows, "mask_word"), 0.25, 40 * len(word_rows))
