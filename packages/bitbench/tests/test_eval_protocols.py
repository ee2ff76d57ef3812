"""Acceptance tests of the evaluation protocols over every model kind (bitswin with table codes,
byte, bpe, hf-bert): the same hidden bytes, nothing of a hidden byte in any model input, chain
rule against one pass, forward FLOPs per byte against torch's counter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bitbaselines import BpeMLM, BpeMLMConfig, ByteMLM, ByteMLMConfig
from bitbaselines.bpe import encode_pieces, train_reference_bpe
from bittrain.engine import shown_ids
from bittrain.engine.flop_count import flop_counter_mode
from bittrain.hidden.scores import protocol_scores, score_spans
from bittrain.hidden.spans import HiddenSpans, select_spans
from bittrain.tasks.baseline_eval import BpeEvalModel, ByteEvalModel
from bittrain.tasks.bitswin_eval import BitSwinEval

pytest.importorskip("transformers")

WORDS = [
    "the",
    "king",
    "and",
    "queen",
    "of",
    "a",
    "fair",
    "land",
    "rode",
    "over",
    "hills",
    "to",
    "see",
    "their",
    "old",
    "friend",
    "who",
    "lived",
    "by",
    "sea",
]


def make_text(n_words: int = 3000, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    out = []
    for i, word in enumerate(rng.choice(WORDS, size=n_words)):
        out.append(str(word) + ("." if i % 11 == 10 else ""))
        out.append("\n" if i % 23 == 22 else " ")
    return "".join(out).encode()


TEXT = make_text()
TOK = train_reference_bpe([TEXT], 600)
L = 128


def eval_windows(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    w = np.stack(
        [np.frombuffer(TEXT[5000 + 301 * i : 5000 + 301 * i + L], np.uint8) for i in range(n)]
    )
    docs = np.zeros(w.shape, dtype=bool)
    docs[1, 70] = True
    return w.copy(), docs


def code_table():
    from enctable import AdaptiveEncodingTable

    w = np.frombuffer(TEXT[: 64 * 128], np.uint8).reshape(64, 128).copy()
    table = AdaptiveEncodingTable(levels=2, max_size=200, target_unit_bytes=5.0)
    scores = np.zeros(w.shape)
    scores[:, 1:] = (w[:, :-1] == 32) * 5.0  # units start after a space
    for step in range(1, 4):
        table.update_tables(w, scores, None, step=step)
    return table


@pytest.fixture(scope="module")
def models() -> dict[str, object]:
    from bitbaselines.hf_bert import HfBertConfig, bert_config, bitbench_bert
    from bitswin import BitSwinConfig, BitSwinModel
    from bittrain.tasks.hf_eval import HfEvalModel

    torch.manual_seed(0)
    table = code_table()
    swin = BitSwinConfig.tiny(
        depths=(1, 1, 1, 1), widths=(16, 32, 32, 32), heads=(2, 2, 2, 2),
        code_vocab_size=table.code_space(2),
    )  # fmt: skip
    vocab = TOK.get_vocab_size()
    small = {"d_model": 32, "n_layers": 2, "n_heads": 2}
    hf_cfg = HfBertConfig(vocab_size=vocab, **small)
    return {
        "bitswin": BitSwinEval(BitSwinModel(swin), code_table=table, code_level=2),
        "byte": ByteEvalModel(ByteMLM(ByteMLMConfig(window=16, **small))),
        "bpe": BpeEvalModel(BpeMLM(BpeMLMConfig(vocab_size=vocab, **small)), TOK),
        "hf-bert": HfEvalModel.bitbench(bitbench_bert(bert_config(hf_cfg)), TOK, 3.0),
    }


def test_every_kind_is_asked_the_same_thing(models):
    w, docs = eval_windows()
    for protocol in ("tokens", "words", "bytes"):
        spans = select_spans(protocol, w, docs, seed=5, reference=TOK)
        scores = {k: protocol_scores(m, w, docs, protocol, seed=5, chain=True, reference=TOK)
                  for k, m in models.items()}  # fmt: skip
        for kind, got in scores.items():
            if protocol == "bytes" and kind in ("bpe", "hf-bert"):
                assert got == {}  # not byte-granular: no bytes protocol
            else:
                assert 0.0 < got[f"bpb_{protocol}"] < 20.0
        assert spans.digest == select_spans(protocol, w, docs, seed=5, reference=TOK).digest


class Inputs:
    """Records every tensor a module's forward receives."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.seen: list[torch.Tensor] = []
        self.handle = module.register_forward_pre_hook(self.hook, with_kwargs=True)

    def hook(self, module, args, kwargs):
        for value in [*args, *kwargs.values()]:
            if isinstance(value, torch.Tensor):
                self.seen.append(value.detach().clone())

    def close(self) -> list[torch.Tensor]:
        self.handle.remove()
        return self.seen


def _same_token_count(piece: bytes) -> bytes | None:
    """``piece`` with one letter changed so that it still has as many tokens, or None."""
    n = len(encode_pieces(TOK, [piece])[0])
    for i, b in enumerate(piece):
        if not 97 <= b <= 122:
            continue
        for c in range(97, 123):
            other = piece[:i] + bytes([c]) + piece[i + 1 :]
            if c != b and len(encode_pieces(TOK, [other])[0]) == n:
                return other
    return None


@pytest.mark.parametrize("kind", ["bitswin", "byte", "bpe", "hf-bert"])
def test_hidden_byte_values_reach_no_model_input(models, kind):
    model = models[kind]
    w, docs = eval_windows()
    spans = select_spans("words", w, docs, seed=1, reference=TOK)
    changed = w.copy()
    hidden = spans.hidden
    if kind in ("bitswin", "byte"):
        changed[hidden] = (changed[hidden].astype(np.int64) * 7 + 13) % 256  # any other bytes
    else:  # a token model is told each hidden piece's token count: keep it, change the bytes
        edits = 0
        for r in range(w.shape[0]):
            for k in np.unique(spans.span_id[r][spans.span_id[r] >= 0]):
                where = np.flatnonzero(spans.span_id[r] == k)
                other = _same_token_count(w[r, where].tobytes())
                if other is not None:
                    changed[r, where] = np.frombuffer(other, np.uint8)
                    edits += 1
        assert edits >= 1
    assert (changed != w).any() and (changed[~hidden] == w[~hidden]).all()
    runs = []
    for data in (w, changed):
        spy = Inputs(model.model)
        score = score_spans(model, data, spans, doc_starts=docs, chain=False)
        runs.append((spy.close(), score.bits))
    (first, bits_a), (second, bits_b) = runs
    assert len(first) == len(second) > 0
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)  # bit ids, segment ids, table codes, token ids: all the same
    assert bits_a != bits_b  # the hidden bytes themselves did change


class PreviousByte:
    """A fake byte model: 1 bit for a hidden byte whose previous byte is shown, else 8."""

    def __init__(self) -> None:
        self.calls = 0

    def hidden_byte_bits(self, windows, hidden, *, doc_starts=None, pad=None):
        self.calls += 1
        shown_before = np.concatenate([np.zeros((hidden.shape[0], 1), bool), ~hidden[:, :-1]], 1)
        return np.where(hidden, np.where(shown_before, 1.0, 8.0), 0.0).astype(np.float32)


def _spans(span_id: np.ndarray) -> HiddenSpans:
    return HiddenSpans("words", "words", span_id.astype(np.int32), 0, 0.15, "-")


def test_chain_rule_reveals_each_span_left_to_right():
    span_id = np.full((2, 20), -1)
    span_id[0, 2:6] = 0  # 4 bytes
    span_id[0, 6:8] = 1  # 2 bytes right after span 0
    span_id[1, 10:13] = 0  # 3 bytes
    w = np.zeros((2, 20), np.uint8)
    fake = PreviousByte()
    chain = score_spans(fake, w, _spans(span_id), chain=True)
    single = score_spans(fake, w, _spans(span_id), chain=False)
    # chain: every byte sees its predecessor except the first of span 1, whose predecessor is
    # span 0's last byte, hidden in layer 0
    assert chain.bits == 1 + 1 + 1 + 1 + 8 + 1 + 1 + 1 + 1
    assert single.bits == 1 + 8 + 8 + 8 + 8 + 8 + 1 + 8 + 8
    assert chain.hidden_bytes == single.hidden_bytes == 9
    assert fake.calls == 4 + 1  # layers 0..3, then the one pass
    ones = np.full((2, 20), -1)
    ones[0, [2, 5, 9]] = [0, 1, 2]
    assert (
        score_spans(fake, w, _spans(ones), chain=True).bits
        == score_spans(fake, w, _spans(ones), chain=False).bits
    )  # spans of one unit: nothing to chain


def test_chain_and_one_pass_agree_on_one_unit_spans_and_differ_on_longer(models):
    w, docs = eval_windows()
    for kind, protocol in (("byte", "bytes"), ("bitswin", "bytes"), ("bpe", "tokens")):
        one = protocol_scores(models[kind], w, docs, protocol, seed=2, chain=False, reference=TOK)
        chained = protocol_scores(
            models[kind], w, docs, protocol, seed=2, chain=True, reference=TOK
        )
        assert one == pytest.approx(chained, abs=1e-9)
    words = select_spans("words", w, docs, seed=2, reference=TOK)
    one = score_spans(models["byte"], w, words, doc_starts=docs, chain=False)
    chained = score_spans(models["byte"], w, words, doc_starts=docs, chain=True)
    assert chained.forwards > 1 and abs(chained.bits - one.bits) > 1e-4


def _check(counted: float, estimate: float) -> None:
    assert estimate == pytest.approx(counted, rel=0.10), (estimate, counted)


def test_flops_per_byte_match_torchs_counter_bitswin():
    from bitswin import BitSwinConfig, BitSwinModel

    model = BitSwinEval(BitSwinModel(BitSwinConfig.tiny()))
    w = torch.from_numpy(np.frombuffer(TEXT[:512], np.uint8).copy()[None])
    with flop_counter_mode() as counter, torch.no_grad():
        model._forward(shown_ids(w))  # the hierarchy's cost: what this forward ran
    _check(counter.get_total_flops() / 512, model.flops_per_byte(512))


def test_flops_per_byte_match_torchs_counter_byte():
    model = ByteEvalModel(ByteMLM(ByteMLMConfig()))
    ids = torch.from_numpy(np.frombuffer(TEXT[:512], np.uint8).astype(np.int64)[None])
    with flop_counter_mode() as counter, torch.no_grad():
        model.model(ids)
    _check(counter.get_total_flops() / 512, model.flops_per_byte(512))


@pytest.mark.parametrize("kind", ["bpe", "hf-bert"])
def test_flops_per_byte_match_torchs_counter_token_models(kind):
    from bitbaselines.hf_bert import HfBertConfig, bert_config, bitbench_bert
    from bittrain.tasks.hf_eval import HfEvalModel

    ids = encode_pieces(TOK, [TEXT[:512]])[0]
    per_token = 512 / ids.size
    vocab = TOK.get_vocab_size()
    if kind == "bpe":
        model = BpeEvalModel(BpeMLM(BpeMLMConfig(vocab_size=vocab, bytes_per_token=per_token)), TOK)
    else:
        bert = bitbench_bert(bert_config(HfBertConfig(vocab_size=vocab)))
        model = HfEvalModel.bitbench(bert, TOK, per_token)
    with flop_counter_mode() as counter, torch.no_grad():
        model.model(torch.from_numpy(ids[None]))
    _check(counter.get_total_flops() / 512, model.flops_per_byte(512))
