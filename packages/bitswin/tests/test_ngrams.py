"""Hashed byte n-gram embeddings: the hash against a plain-Python reference, determinism, only
shown bytes in the n-grams, documents and padding, FLOPs and parameters."""

from __future__ import annotations

import pytest
import torch
from bitswin import BitSwinConfig, BitswinError, BitSwinModel, realised_flops_per_byte
from bitswin.ngrams import OUTSIDE, UNKNOWN, _document_offsets, ngram_ids, ngram_symbols
from bitswin.routing import byte_view
from bittokens import MASK_ID, PAD_ID
from helpers import bytes_to_bit_ids, make_targets, text_bytes
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

MODULUS = 2**31 - 1
MULTIPLIERS = (1_000_000_007, 1_500_450_271)


def reference_ids(symbols, docs, sizes, hashes, buckets):
    """Plain Python: per position, the polynomial hash of the n symbols ending there (OUTSIDE
    before the document), by Python's big integers."""
    out = []
    for row, doc in zip(symbols, docs, strict=True):
        line = []
        for t in range(len(row)):
            ids = []
            for i, n in enumerate(sizes):
                gram = [row[t - j] if t - j >= 0 and doc[t - j] == doc[t] else OUTSIDE
                        for j in range(n)]  # fmt: skip
                for h in range(hashes):
                    value = sum((s + 1) * MULTIPLIERS[h] ** j for j, s in enumerate(gram))
                    ids.append(value % MODULUS % buckets + (i * hashes + h) * buckets)
            line.append(ids)
        out.append(line)
    return torch.tensor(out)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(0, 257), min_size=1, max_size=24),
    st.integers(0, 23),
    st.sampled_from([(1,), (2, 3), (2, 4, 8), (5, 3)]),
    st.integers(1, 2),
    st.integers(1, 50),
)
def test_hash_matches_the_python_reference(symbols, cut, sizes, hashes, buckets):
    sym = torch.tensor([symbols])
    n = sym.shape[1]
    docs = torch.tensor([[0 if t < cut else 1 for t in range(n)]])
    valid = torch.ones_like(sym, dtype=torch.bool)
    got = ngram_ids(sym, _document_offsets(valid, docs), sizes, hashes, buckets)
    assert torch.equal(got, reference_ids(sym.tolist(), docs.tolist(), sizes, hashes, buckets))


def _view(byte_batch, hidden=None, hidden_bits=None, pad=None):
    targets = make_targets(
        byte_batch,
        torch.zeros_like(byte_batch, dtype=torch.bool) if hidden is None else hidden,
        pad=pad,
        hidden_bits=hidden_bits,
    )
    return byte_view(targets.input_ids), targets.input_ids


def test_symbols_are_shown_bytes_unknown_or_outside():
    data = text_bytes()[:12].reshape(1, 12)
    hidden = torch.zeros(1, 12, dtype=torch.bool)
    hidden[0, 3] = True
    bits = torch.zeros(1, 96, dtype=torch.bool)
    bits[0, 8 * 5 + 2] = True  # one hidden bit of byte 5
    pad = torch.zeros(1, 12, dtype=torch.bool)
    pad[0, 10:] = True
    view, _ = _view(data, hidden, bits, pad)
    sym = ngram_symbols(view)[0].tolist()
    assert sym[3] == UNKNOWN and sym[5] == UNKNOWN and sym[10:] == [OUTSIDE, OUTSIDE]
    shown = [i for i in range(10) if i not in (3, 5)]
    assert [sym[i] for i in shown] == data[0, shown].tolist()


def test_ids_are_deterministic_and_row_independent():
    torch.manual_seed(0)
    config = BitSwinConfig(
        depths=(1, 1), widths=(8, 16), heads=(1, 2), windows=(8, 4), ngram_sizes=(2, 3, 4)
    )
    model = BitSwinModel(config).eval()
    data = text_bytes()[:96].reshape(3, 32)
    ids = bytes_to_bit_ids(data)
    seen = []
    model.ngrams.table.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    model(ids)
    model(ids[1:2])  # one row alone
    model(ids)  # again
    assert torch.equal(seen[0], seen[2])
    assert torch.equal(seen[0].reshape(3, 32, -1)[1], seen[1].reshape(32, -1))


def test_hidden_byte_values_never_reach_the_ngrams():
    data = text_bytes()[:64].reshape(2, 32)
    hidden = torch.zeros(2, 32, dtype=torch.bool)
    hidden[:, 10:13] = True
    bits = torch.zeros(2, 256, dtype=torch.bool)
    bits[0, 8 * 20 + 3] = True
    other = data.clone()
    other[hidden] = (other[hidden] * 7 + 13) % 256
    other[0, 20] ^= 1 << 4  # the hidden bit of byte 20 changed
    view_a, ids_a = _view(data, hidden, bits)
    view_b, ids_b = _view(other, hidden, bits)
    assert torch.equal(ids_a, ids_b)
    offsets = torch.zeros(2, 32, dtype=torch.long) + torch.arange(32)
    a = ngram_ids(ngram_symbols(view_a), offsets, (2, 8), 2, 997)
    b = ngram_ids(ngram_symbols(view_b), offsets, (2, 8), 2, 997)
    assert torch.equal(a, b)
    # the same text shown fully hashes differently where a hidden byte was in the n-gram
    plain, _ = _view(data)
    c = ngram_ids(ngram_symbols(plain), offsets, (2, 8), 2, 997)
    assert not torch.equal(a[:, 10:14], c[:, 10:14]) and torch.equal(a[:, :10], c[:, :10])


def test_documents_and_padding_do_not_reach_each_other():
    torch.manual_seed(0)
    config = BitSwinConfig(
        depths=(1, 1), widths=(8, 16), heads=(1, 2), windows=(8, 4), ngram_sizes=(2, 8)
    )
    model = BitSwinModel(config).eval()
    data = text_bytes()[:40].reshape(1, 40)
    changed = data.clone()
    changed[0, :20] = torch.flip(changed[0, :20], dims=[0])
    segments = torch.tensor([[0] * 20 + [1] * 20])
    a = model.ngrams(byte_view(bytes_to_bit_ids(data)), segments)
    b = model.ngrams(byte_view(bytes_to_bit_ids(changed)), segments)
    assert torch.equal(a[:, 20:], b[:, 20:])  # document 2 sees nothing of document 1
    padded = torch.cat([bytes_to_bit_ids(data), torch.full((1, 8 * 5), PAD_ID)], dim=1)
    c = model.ngrams(byte_view(padded), torch.cat([segments, torch.full((1, 5), 7)], dim=1))
    assert torch.equal(c[:, :40], a) and not c[:, 40:].any()


def test_parameters_flops_and_config():
    base = BitSwinConfig.tiny()
    config = BitSwinConfig.tiny(ngram_sizes=(2, 3, 4, 5, 6, 7, 8), ngram_buckets=1000)
    assert config.ngram_parameters == 7 * 1000 * 128
    added = BitSwinModel(config).num_parameters() - BitSwinModel(base).num_parameters()
    assert added == config.ngram_parameters
    assert BitSwinConfig.from_dict(config.to_dict()) == config
    torch.manual_seed(0)
    model = BitSwinModel(config).eval()
    data = text_bytes()[:320].reshape(2, 160)
    hidden = torch.rand(data.shape, generator=torch.Generator().manual_seed(0)) < 0.15
    targets = make_targets(data, hidden)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(targets.input_ids)
    estimate = realised_flops_per_byte(config, 160, out.metrics)
    assert counter.get_total_flops() / 320 == pytest.approx(estimate, rel=0.1)
    for bad in ({"ngram_sizes": (2, 2)}, {"ngram_sizes": (0,)}, {"ngram_hashes": 9},
                {"ngram_buckets": 0}):  # fmt: skip
        with pytest.raises(BitswinError, match="ngram"):
            BitSwinConfig.tiny(**bad)


def test_mask_ids_in_input_become_unknown():
    ids = torch.tensor([[0, 1, 0, 0, 0, 0, 0, 1] + [MASK_ID] * 8 + [PAD_ID] * 8])
    assert ngram_symbols(byte_view(ids))[0].tolist() == [0x41, UNKNOWN, OUTSIDE]
