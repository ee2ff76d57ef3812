"""MaskConfig validation and conversions; the curriculum of seed sections 3.2 and 3.4."""

from __future__ import annotations

import math

import pytest
from bitmask import PHASE_NAMES, BitmaskError, CorruptionConfig, Curriculum, Level, MaskConfig


def test_defaults_are_appendix_b():
    cfg = MaskConfig()
    assert (cfg.bit_rate, cfg.byte_rate, cfg.word_rate, cfg.phrase_rate) == (0.15, 0.2, 0.25, 0.3)
    assert (cfg.byte_start, cfg.word_start, cfg.phrase_start, cfg.max_time) == (5, 15, 30, 100)
    assert (cfg.span_p, cfg.span_cap, cfg.target_unit_bytes) == (0.2, 10, 5.0)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("bit_rate", 0.3, "[0.05, 0.2]"),
        ("byte_rate", 0.05, "[0.1, 0.3]"),
        ("word_rate", 0.5, "[0.15, 0.35]"),
        ("phrase_rate", 0.1, "[0.2, 0.4]"),
    ],
)
def test_rate_outside_its_range_names_field_and_range(field, value, allowed):
    with pytest.raises(BitmaskError, match=rf"MaskConfig\.{field} = {value}.*{allowed}"):
        MaskConfig(**{field: value})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"span_p": 0.0}, "span_p"),
        ({"span_cap": 0}, "span_cap"),
        ({"unit": "minute"}, "unit"),
        ({"boundaries": "spaces"}, "boundaries"),
        ({"target_unit_bytes": 0.5}, "target_unit_bytes"),
        ({"byte_start": -1}, "byte_start"),
    ],
)
def test_bad_fields_raise_naming_the_field(kwargs, match):
    with pytest.raises(BitmaskError, match=match):
        MaskConfig(**kwargs)


def test_corruption_config_validation():
    with pytest.raises(BitmaskError, match="bert_mask"):
        CorruptionConfig(bert_mask=1.5)
    with pytest.raises(BitmaskError, match="exceeds 1"):
        CorruptionConfig(bert_mask=0.8, bert_random=0.3)
    with pytest.raises(BitmaskError, match="replace_source"):
        CorruptionConfig(replace_source="oracle")
    assert not CorruptionConfig().active and CorruptionConfig(bert=True).active


def test_curriculum_follows_section_3_2():
    cur = Curriculum(MaskConfig())
    s0 = cur.at(epoch=0)
    assert s0.active == (Level.BIT,) and s0.phase == 1 and s0.rates["byte"] == 0.0
    assert cur.at(epoch=4.99).phase == 1
    s5 = cur.at(epoch=5)
    assert s5.phase == 2 and s5.rates["byte"] == pytest.approx(0.15)
    assert cur.at(epoch=7).rates["byte"] == pytest.approx(0.17)
    assert cur.at(epoch=12).rates["byte"] == pytest.approx(0.2)  # capped at byte_rate
    s15 = cur.at(epoch=15)
    assert s15.phase == 3 and s15.rates["word"] == pytest.approx(0.15)
    assert cur.at(epoch=50).rates["word"] == pytest.approx(0.25)
    s30 = cur.at(epoch=30)
    assert s30.phase == 4 and s30.rates["phrase"] == pytest.approx(0.15)
    assert cur.at(epoch=40).rates["phrase"] == pytest.approx(0.25)
    assert cur.at(epoch=100).rates == {"bit": 0.15, "byte": 0.2, "word": 0.25, "phrase": 0.3}
    assert [cur.at(epoch=e).phase_name for e in (0, 5, 15, 30)] == [
        PHASE_NAMES[i] for i in (1, 2, 3, 4)
    ]
    assert all(cur.at(epoch=e).rates["bit"] == 0.15 for e in range(0, 100, 7))


def test_curriculum_needs_its_clock():
    with pytest.raises(BitmaskError, match="epoch"):
        Curriculum(MaskConfig()).at(step=100)
    with pytest.raises(BitmaskError, match="step"):
        Curriculum(MaskConfig.for_steps(1000)).at(epoch=3)
    with pytest.raises(BitmaskError, match=">= 0"):
        Curriculum().at(epoch=-1)


def test_compressed_maps_the_epoch_curriculum_onto_steps():
    steps = MaskConfig.for_steps(2000)  # 100 epochs -> 2000 steps: 20 steps per epoch
    assert steps.unit == "step" and steps.max_time == 2000
    assert (steps.byte_start, steps.word_start, steps.phrase_start) == (100, 300, 600)
    epochs, compressed = Curriculum(MaskConfig()), Curriculum(steps)
    for epoch in (0, 4, 5, 6.5, 10, 15, 22, 30, 31, 45, 80, 100):
        a, b = epochs.at(epoch=epoch), compressed.at(step=round(epoch * 20))
        assert a.phase == b.phase
        for level in ("bit", "byte", "word", "phrase"):
            assert math.isclose(a.rates[level], b.rates[level], abs_tol=1e-12)
    with pytest.raises(BitmaskError, match="already in steps"):
        steps.compressed(10)
    short = MaskConfig(word_start=None).compressed(10)
    assert Curriculum(short).at(step=10).rates["word"] == 0.0
    assert Curriculum(short).at(step=10).phase == 3  # byte and phrase on


def test_a_level_the_mixture_never_draws_is_not_in_force():
    # byte masks alone (the shipped `tiny`): word and phrase rates pass their start steps, but
    # with mixture weight 0 no window is masked by them, so the run stays in phase 2
    byte_only = MaskConfig(byte_start=0, mix_bit=0.0, mix_byte=1.0, mix_word=0.0, mix_phrase=0.0)
    late = Curriculum(byte_only).at(epoch=40)
    assert late.rates["word"] > 0 and late.rates["phrase"] > 0
    assert late.active == (Level.BYTE,) and late.phase == 2
    assert late.phase_name == PHASE_NAMES[2]
    no_mixture = MaskConfig(byte_start=0, level_mixture=False, mix_word=0.0, mix_phrase=0.0)
    assert Curriculum(no_mixture).at(epoch=40).phase == 4  # without a mixture every level masks


def test_state_dict_round_trip_and_schedule():
    cur = Curriculum(MaskConfig.for_steps(500, phrase_rate=0.4))
    again = Curriculum.from_state_dict(cur.state_dict())
    assert again.config == cur.config
    sched = cur.schedule(points=11)
    assert next(s.phase for s in sched) == 1 and sched[-1].phase == 4
    assert sched[-1].to_dict()["active"] == ["bit", "byte", "word", "phrase"]
    with pytest.raises(BitmaskError, match="unknown MaskConfig field"):
        MaskConfig.from_dict({"bit_prob": 0.1})


def test_level_is_a_string_key():
    rates = Curriculum().at(epoch=50).rates
    assert rates[Level.WORD] == rates["word"]
