"""bittrain.engine: the one input path, the one boundary recipe, the task registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bitswin import BitSwinConfig, BitSwinModel
from bittokens import MASK_ID, PAD_ID
from bittrain.engine import (
    OWN_STARTS_THRESHOLD,
    TableCodes,
    TaskKind,
    boundary_scores,
    model_inputs,
    register_task,
    segment_ids,
    shown_ids,
    task_kind,
    task_kinds,
)
from bittrain.engine.modules import lookup_parameters
from bittrain.engine.registry import kind_of_model_type
from bittrain.engine.unit_scores import model_units
from bittrain.errors import BittrainError
from enctable import AdaptiveEncodingTable
from enctable.priors import whitespace_starts

TEXT = b"the cat sat on the mat and the dog sat on the log " * 4


def _table() -> AdaptiveEncodingTable:
    table = AdaptiveEncodingTable(levels=2, max_size=300)
    data = np.frombuffer(TEXT, dtype=np.uint8)[None, :]
    table.update_tables(data, whitespace_starts(data[0]).astype(np.float32)[None, :], step=1)
    return table


def _model(codes: int = 0, ngram_sizes: tuple[int, ...] = ()) -> BitSwinModel:
    torch.manual_seed(0)
    config = BitSwinConfig.tiny(
        depths=(1, 1), widths=(16, 32), heads=(1, 2), windows_bits=(8, 24), code_vocab_size=codes,
        ngram_sizes=ngram_sizes, ngram_buckets=97,
    )  # fmt: skip
    return BitSwinModel(config).eval()


def test_shown_ids_hide_bytes_bits_and_padding() -> None:
    w = torch.tensor([[0x41, 0x42, 0x43]])
    hidden_bytes = torch.tensor([[False, True, False]])
    hidden_bits = torch.zeros(1, 24, dtype=torch.bool)
    hidden_bits[0, 0] = True
    pad = torch.tensor([[False, False, True]])
    ids = shown_ids(w, hidden_bytes=hidden_bytes, hidden_bits=hidden_bits, pad=pad)[0].tolist()
    assert ids[:8] == [MASK_ID, 1, 0, 0, 0, 0, 0, 1]  # 'A' with its first bit hidden
    assert ids[8:16] == [MASK_ID] * 8 and ids[16:] == [PAD_ID] * 8
    assert segment_ids(np.array([[True, False, True]])).tolist() == [[1, 1, 2]]


def test_changing_a_hidden_byte_changes_nothing_the_model_is_fed() -> None:
    """Neither the codes nor the hashed n-grams (both built from the shown bytes) carry a hidden
    byte's value."""
    table = _table()
    codes = TableCodes(table, 2)
    model = _model(codes.vocab_size, ngram_sizes=(2, 3, 8))
    rows: list[torch.Tensor] = []  # the n-gram rows each forward looks up
    model.ngrams.table.register_forward_pre_hook(lambda m, args: rows.append(args[0].clone()))
    true = torch.from_numpy(np.frombuffer(TEXT[:64], np.uint8).copy())[None]
    other = true.clone()
    other[0, 4:7] = torch.tensor(list(b"dog"))
    hidden = torch.zeros(1, 64, dtype=torch.bool)
    hidden[0, 4:7] = True
    starts = torch.zeros(1, 64, dtype=torch.bool)
    starts[0, 0] = True
    fed = [model_inputs(shown_ids(w, hidden_bytes=hidden), starts, codes) for w in (true, other)]
    for a, b in zip(
        (fed[0].input_ids, fed[0].code_ids), (fed[1].input_ids, fed[1].code_ids), strict=False
    ):
        assert torch.equal(a, b)
    assert (fed[0].code_ids[0, 4:7] == -1).all() and (fed[0].code_ids[0, 10:] >= 256).any()
    outs = [model(f.input_ids, segment_ids=f.segment_ids, code_ids=f.code_ids) for f in fed]
    assert torch.equal(outs[0].byte_logits, outs[1].byte_logits)
    assert len(rows) == 2 and torch.equal(rows[0], rows[1])
    # the n-grams are in play: the true bytes shown give other rows where "dog" was hidden
    model(shown_ids(true), segment_ids=fed[0].segment_ids)
    hidden_grams = rows[0].reshape(64, -1)[4:15] != rows[2].reshape(64, -1)[4:15]
    assert hidden_grams.all(dim=1).any() and torch.equal(rows[0][:4], rows[2][:4])


@pytest.mark.parametrize("source", ["model", "entropy"])
def test_boundary_scores_start_units_at_documents_never_at_padding(source: str) -> None:
    model = _model()
    text = "añb 共同 x".encode()  # multi-byte characters: no start inside one
    w = torch.from_numpy(np.frombuffer((text * 3)[:24], np.uint8).copy())[None]
    starts = torch.zeros(1, 24, dtype=torch.bool)
    starts[0, 5] = True
    pad = torch.zeros(1, 24, dtype=torch.bool)
    pad[0, 20:] = True
    result = boundary_scores(model, w, starts, pad=pad, source=source)
    s = result.scores[0]
    assert result.passes == (2 if source == "entropy" else 1)
    assert result.starts is None  # no unit levels: units come from a cut of the scores
    assert s[5] == s.max() and (s[20:] == s.min()).all()
    continuation = (w[0] & 0xC0) == 0x80
    assert (s[continuation] < s[~continuation & ~pad[0]].min()).all()
    assert model.training is False


@pytest.mark.parametrize("router", ["learned", "spacelike"])
def test_a_model_with_units_scores_its_own_unit_starts_above_the_threshold(router: str) -> None:
    torch.manual_seed(0)
    config = BitSwinConfig.tiny(
        depths=(1, 1, 1, 1), widths=(16, 32, 32, 32), heads=(1, 2, 2, 2), router=router
    )
    model = BitSwinModel(config).eval()
    text = ("the cat sat on the mat, añb 共同 " * 4).encode()[:96]
    w = torch.from_numpy(np.frombuffer(text, np.uint8).copy()).reshape(2, 48)
    starts = torch.zeros(2, 48, dtype=torch.bool)
    starts[:, 0] = True
    starts[1, 30] = True
    pad = torch.zeros(2, 48, dtype=torch.bool)
    pad[1, 40:] = True
    result = boundary_scores(model, w, starts, pad=pad)
    own = model_units(model, w, starts, pad=pad).starts[0]  # the units training masks with
    assert result.starts is not None and torch.equal(result.starts, own)
    assert torch.equal(result.scores > OWN_STARTS_THRESHOLD, own)
    assert own[:, 0].all() and own[1, 30] and not own[1, 40:].any()
    # not a cut fitted to a length: the router's own choice (the spacelike rule: word starts)
    if router == "spacelike":
        assert own[0, 4] and own[0, 8] and not own[0, 1] and not own[0, 5]


def test_registry_knows_the_builtin_kinds_and_refuses_clashes() -> None:
    assert {"bitswin", "byte", "bpe"} <= set(task_kinds())
    assert kind_of_model_type("byte_mlm").name == "byte"
    with pytest.raises(BittrainError, match="did you mean 'byte'"):
        task_kind("bytes")
    with pytest.raises(BittrainError, match="claims model_type"):
        register_task(TaskKind("mine", build=None, model_types=("bpe_mlm",), load_eval=None))


def test_lookup_parameters_count_the_ngram_and_code_tables() -> None:
    plain, memory = _model(), _model(codes=300, ngram_sizes=(2, 3, 4))
    added = lookup_parameters(memory) - lookup_parameters(plain)
    assert added == memory.config.ngram_parameters + 300 * 32  # n-gram tables + code rows
    assert added == memory.num_parameters() - plain.num_parameters()
