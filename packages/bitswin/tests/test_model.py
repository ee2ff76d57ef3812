"""Model invariances: no leak, padding, batch permutation, shapes, attention maps, segments,
for every router variant."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from bitswin import BitSwinConfig, BitswinError, BitSwinModel
from bittokens import MASK_ID, PAD_ID
from helpers import bytes_to_bit_ids, make_targets, text_bytes


def _model(config: BitSwinConfig, seed: int = 0) -> BitSwinModel:
    torch.manual_seed(seed)
    return BitSwinModel(config).double().eval()


def _outputs(out) -> dict[str, torch.Tensor]:
    found = {
        "bit_logits": out.bit_logits,
        "byte_logits": out.byte_logits,
        "boundary": out.boundary,
        "replaced_logits": out.replaced_logits,
        "utf8_role": out.structural_logits["utf8_role"],
        "char_class": out.structural_logits["char_class"],
        "byte_hidden": out.byte_hidden,
    }
    for level, starts in enumerate(out.unit_starts):
        found[f"unit_starts_{level}"] = starts
    return found


def _batch(n_bytes: int = 40, rows: int = 3, seed: int = 1, span: bool = True):
    g = torch.Generator().manual_seed(seed)
    data = text_bytes()[: rows * n_bytes].reshape(rows, n_bytes)
    hidden = torch.rand(data.shape, generator=g) < 0.15
    if span:
        hidden[:, 9:21] = True  # a long masked run (forced unit starts inside it)
    hidden_bits = torch.rand(rows, 8 * n_bytes, generator=g) < 0.05
    return data, make_targets(data, hidden, hidden_bits=hidden_bits)


def test_output_shapes(micro_config):
    model = _model(micro_config)
    data, targets = _batch()
    codes = torch.randint(-1, 11, data.shape)
    out = model(targets.input_ids, targets=targets, code_ids=codes, return_attention=True)
    b, n = data.shape
    assert out.bit_logits.shape == (b, 8 * n)
    assert out.byte_logits.shape == (b, n, 256)
    assert out.boundary.shape == out.replaced_logits.shape == (b, n)
    assert out.structural_logits["utf8_role"].shape == (b, n, 6)
    assert out.byte_hidden.shape == (b, n, 16)
    assert out.stage_names == ("bit", "phrase", "word", "byte")
    m1, m2 = int(out.metrics["word_slots"]), int(out.metrics["phrase_slots"])
    assert [s.shape for s in out.stages] == [(b, 8 * n, 8), (b, m2, 16), (b, m1, 24), (b, n, 16)]
    # depth per stage: bit 1, phrase 2, word 1 + 1, byte 2 + 1; windows 4, 2, 3, 5.
    assert [a.shape for a in out.attentions] == [
        (b, 1, 8 * n, 7),
        (b, 2, m2, 3),
        (b, 2, m1, 5),
        (b, 3, n, 9),
    ]
    assert [s.shape for s in out.unit_starts] == [(b, n), (b, n)]
    # Phrase units start where word units start.
    assert not (out.unit_starts[1] & ~out.unit_starts[0]).any()
    assert set(out.losses) == {"bit", "byte", "replaced", "structural", "ratio", "router_prior"}
    assert out.loss.requires_grad and torch.isfinite(out.loss)
    assert {"acc_bit", "acc_byte", "bpb_hidden", "loss_ratio"} <= set(out.metrics)
    assert {"bytes_per_word_unit", "words_per_phrase_unit", "bit_patterns_per_byte"} <= set(
        out.metrics
    )
    for maps in out.attentions[:1] + out.attentions[-1:]:  # bits and bytes: no padding rows
        torch.testing.assert_close(maps.sum(-1), torch.ones_like(maps.sum(-1)))


@pytest.mark.parametrize("stages", [2, 3])
def test_fewer_stages(stages):
    config = BitSwinConfig(
        depths=(1, 2, 2)[:stages],
        widths=(8, 16, 16)[:stages],
        heads=(2, 2, 2)[:stages],
        windows=(8, 4, 4)[:stages],
    )
    model = _model(config)
    data, targets = _batch()
    out = model(targets.input_ids, targets=targets, return_attention=True)
    assert out.byte_logits.shape == (*data.shape, 256)
    assert len(out.unit_starts) == stages - 2
    assert len(out.attentions) == stages
    assert out.attentions[-1].shape[:3] == (3, 2, data.shape[1])
    assert torch.isfinite(out.loss)


def test_no_leak_from_hidden_positions(router_config):
    """Changing the true value of hidden bytes/bits changes no output and no unit start."""
    model = _model(router_config)
    data, targets = _batch()
    other = data.clone()
    other[targets.hidden_bytes] = (other[targets.hidden_bytes] + 77) % 256
    bits_other = bytes_to_bit_ids(other)
    bits_other[targets.mask_bit] ^= 1  # flip the truth of every hidden single bit
    targets_other = make_targets(other, targets.hidden_bytes)
    targets_other.bit_targets = bits_other
    input_other = bits_other.clone()
    input_other[targets.hidden_bits] = MASK_ID
    assert torch.equal(input_other, targets.input_ids)
    out_a = model(targets.input_ids, targets=targets)
    out_b = model(input_other, targets=targets_other)
    for name, value in _outputs(out_a).items():
        assert torch.equal(value, _outputs(out_b)[name]), name
    assert not torch.equal(out_a.losses["byte"], out_b.losses["byte"])
    units_a = model.units(targets.input_ids)
    assert torch.equal(units_a.boundary, out_a.boundary)


@pytest.mark.parametrize("extra", [1, 7, 29])
def test_padding_invariance(router_config, extra):
    model = _model(router_config)
    data, targets = _batch(n_bytes=33)
    codes = torch.randint(-1, 11, data.shape)
    segments = torch.tensor([[0] * 20 + [1] * 13] * 3)
    base = model(targets.input_ids, code_ids=codes, segment_ids=segments)
    padded_ids = torch.cat([targets.input_ids, torch.full((3, 8 * extra), PAD_ID)], dim=1)
    padded_codes = torch.cat([codes, torch.randint(-1, 11, (3, extra))], dim=1)
    padded_segments = torch.cat([segments, torch.full((3, extra), 5)], dim=1)
    out = model(padded_ids, code_ids=padded_codes, segment_ids=padded_segments)
    for name, value in _outputs(base).items():
        padded_value = _outputs(out)[name]
        cut = value.shape[1]
        if name == "boundary" or name.startswith("unit_starts"):
            assert not padded_value[:, cut:].any(), name  # padding is never a unit start
        if value.dtype == torch.bool:
            assert torch.equal(padded_value[:, :cut], value), name
        else:
            torch.testing.assert_close(padded_value[:, :cut], value, atol=1e-12, rtol=0, msg=name)


def test_static_units_give_the_same_outputs(micro_config):
    _, targets = _batch()
    dynamic = _model(micro_config)(targets.input_ids)
    static_config = dataclasses.replace(micro_config, static_units=True)
    static = _model(static_config)(targets.input_ids)
    assert static.metrics["word_slots"] >= dynamic.metrics["word_slots"]
    for name, value in _outputs(dynamic).items():
        if value.dtype == torch.bool:
            assert torch.equal(_outputs(static)[name], value), name
        else:
            torch.testing.assert_close(_outputs(static)[name], value, atol=1e-12, rtol=0)


def test_batch_permutation_invariance(router_config):
    model = _model(router_config)
    _, targets = _batch(rows=4)
    perm = torch.tensor([2, 0, 3, 1])
    out = model(targets.input_ids)
    out_perm = model(targets.input_ids[perm])
    for name, value in _outputs(out).items():
        if value.dtype == torch.bool:
            assert torch.equal(_outputs(out_perm)[name], value[perm]), name
        else:
            torch.testing.assert_close(_outputs(out_perm)[name], value[perm], atol=1e-12, rtol=0)


def test_segments_do_not_see_each_other(router_config):
    """With segment ids, changing one document changes nothing in the other."""
    model = _model(router_config)
    data, _ = _batch(n_bytes=48, rows=1)
    segments = torch.tensor([[0] * 19 + [1] * 29])
    changed = data.clone()
    changed[0, 19:] = torch.flip(changed[0, 19:], dims=[0])
    out_a = model(bytes_to_bit_ids(data), segment_ids=segments)
    out_b = model(bytes_to_bit_ids(changed), segment_ids=segments)
    torch.testing.assert_close(
        out_a.byte_hidden[:, :19], out_b.byte_hidden[:, :19], atol=1e-12, rtol=0
    )
    assert not torch.allclose(out_a.byte_hidden[:, 19:], out_b.byte_hidden[:, 19:])
    assert out_a.unit_starts[0][0, 19]  # a document start starts a unit
    mixed_a = model(bytes_to_bit_ids(data)).byte_hidden[:, :19]
    mixed_b = model(bytes_to_bit_ids(changed)).byte_hidden[:, :19]
    assert not torch.allclose(mixed_a, mixed_b)


def test_units_method_matches_the_forward(router_config):
    model = _model(router_config)
    data, targets = _batch()
    for ids in (bytes_to_bit_ids(data), targets.input_ids):  # clean and shown input
        out = model(ids)
        units = model.units(ids)
        assert torch.equal(units.boundary, out.boundary)
        assert len(units.unit_starts) == len(out.unit_starts) == 2
        for a, b in zip(units.unit_starts, out.unit_starts, strict=True):
            assert torch.equal(a, b)
        for key in ("bytes_per_word_unit", "words_per_phrase_unit"):
            assert float(units.metrics[key]) == pytest.approx(float(out.metrics[key]))


def test_units_never_start_inside_a_shown_character():
    config = BitSwinConfig(router="fixed", unit_targets=(2.0, 2.0))
    model = _model(config)
    text = "比特组成字节, bytes become words. 你好世界".encode()
    data = torch.tensor([list(text)])
    out = model(bytes_to_bit_ids(data))
    continuation = (data & 0xC0) == 0x80
    starts = out.unit_starts[0]
    assert not (starts & continuation).any()
    assert starts.sum() > 5
    assert (out.boundary[continuation] == 0).all()


def test_code_ids_change_outputs_and_minus_one_is_none(micro_config):
    model = _model(micro_config)
    _, targets = _batch()
    none = torch.full(targets.byte_targets.shape, -1)
    plain = model(targets.input_ids, code_ids=none).byte_hidden
    coded = model(targets.input_ids, code_ids=torch.zeros_like(none)).byte_hidden
    assert not torch.allclose(plain, coded)
    no_codes = BitSwinModel(dataclasses.replace(micro_config, code_vocab_size=0))
    with pytest.raises(BitswinError, match="code_vocab_size"):
        no_codes(targets.input_ids, code_ids=none)


def test_gradients_reach_every_parameter(micro_config):
    config = dataclasses.replace(micro_config, loss_weights={"replaced": 0.5, "router_prior": 0.1})
    torch.manual_seed(0)
    model = BitSwinModel(config)
    data, targets = _batch()
    codes = torch.randint(0, 11, data.shape)
    targets.utf8_role = torch.zeros_like(data)
    targets.char_class = torch.zeros_like(data)
    targets.replaced = torch.rand(data.shape) < 0.1
    model(targets.input_ids, targets=targets, code_ids=codes).loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert missing == []


def test_bad_inputs_raise_bitswin_error(micro_config):
    model = BitSwinModel(micro_config)
    with pytest.raises(BitswinError, match="whole number of bytes"):
        model(torch.zeros(2, 12, dtype=torch.long))
    with pytest.raises(BitswinError, match="outside"):
        model(torch.full((1, 16), 9))
    with pytest.raises(BitswinError, match="absolute_positions"):
        model(torch.zeros(1, 8 * 65, dtype=torch.long))
    with pytest.raises(BitswinError, match="segment_ids"):
        model(torch.zeros(1, 16, dtype=torch.long), segment_ids=torch.zeros(1, 3))
    _, targets = _batch()
    del targets.hidden_bytes
    with pytest.raises(BitswinError, match="hidden_bytes"):
        model(targets.input_ids, targets=targets)


def test_bf16_autocast_on_cpu(micro_config):
    model = BitSwinModel(micro_config)
    _, targets = _batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(targets.input_ids, targets=targets, return_attention=True)
    assert torch.isfinite(out.loss)
    out.loss.backward()
