"""Model invariances: no leak, padding, batch permutation, shapes, attention maps, segments."""

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
    return {
        "bit_logits": out.bit_logits,
        "byte_logits": out.byte_logits,
        "boundary": out.boundary,
        "replaced_logits": out.replaced_logits,
        "utf8_role": out.structural_logits["utf8_role"],
        "char_class": out.structural_logits["char_class"],
        "byte_hidden": out.byte_hidden,
    }


def _batch(n_bytes: int = 40, rows: int = 3, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    data = text_bytes()[: rows * n_bytes].reshape(rows, n_bytes)
    hidden = torch.rand(data.shape, generator=g) < 0.2
    hidden_bits = torch.rand(rows, 8 * n_bytes, generator=g) < 0.1
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
    assert out.byte_hidden.shape == (b, n, 24)
    assert [s.shape for s in out.stages] == [(b, 8 * n, 8), (b, n, 16), (b, n, 24)]
    assert [a.shape for a in out.attentions] == [(b, 2, 8 * n, 15), (b, 2, n, 5), (b, 2, n, 9)]
    assert set(out.losses) == {"bit", "byte", "replaced", "structural", "boundary"}
    assert out.loss.requires_grad and torch.isfinite(out.loss)
    assert {"acc_bit", "acc_byte", "acc_word", "acc_hidden_bytes", "bpb_hidden"} <= set(out.metrics)
    # Each query's weights over its window sum to 1.
    for maps in out.attentions:
        torch.testing.assert_close(maps.sum(-1), torch.ones_like(maps.sum(-1)))


def test_no_leak_from_hidden_positions(micro_config):
    """Changing the true value of hidden bytes/bits changes no output (only the loss)."""
    model = _model(micro_config)
    data, targets = _batch()
    other = data.clone()
    other[targets.hidden_bytes] = (other[targets.hidden_bytes] + 77) % 256
    bits_other = bytes_to_bit_ids(other)
    bits_other[targets.mask_bit] ^= 1  # flip the truth of every hidden single bit
    # Rebuild the targets from the other truth with the same masks.
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


@pytest.mark.parametrize("extra", [1, 7, 29])
def test_padding_invariance(micro_config, extra):
    model = _model(micro_config)
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
        torch.testing.assert_close(padded_value[:, :cut], value, atol=1e-12, rtol=0, msg=name)


def test_batch_permutation_invariance(micro_config):
    model = _model(micro_config)
    _, targets = _batch(rows=4)
    perm = torch.tensor([2, 0, 3, 1])
    out = model(targets.input_ids)
    out_perm = model(targets.input_ids[perm])
    for name, value in _outputs(out).items():
        torch.testing.assert_close(_outputs(out_perm)[name], value[perm], atol=1e-12, rtol=0)


def test_segments_do_not_see_each_other(micro_config):
    """With segment ids, changing one document changes nothing in the other."""
    model = _model(micro_config)
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
    # Without segments the documents do mix.
    mixed_a = model(bytes_to_bit_ids(data)).byte_hidden[:, :19]
    mixed_b = model(bytes_to_bit_ids(changed)).byte_hidden[:, :19]
    assert not torch.allclose(mixed_a, mixed_b)


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
    model = BitSwinModel(micro_config)
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
