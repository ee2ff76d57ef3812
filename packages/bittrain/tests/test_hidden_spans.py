"""Evaluation protocols: hidden spans chosen from the text alone (tokens / words / bytes), their
shape, and the digest that says two evaluations were asked the same thing."""

from __future__ import annotations

import numpy as np
import pytest
from bitbaselines.bpe import train_reference_bpe
from bittrain.errors import BittrainError
from bittrain.hidden.spans import PROTOCOLS, resolve_protocols, select_spans
from bittrain.hidden.token_layout import layout_rows, reference_encoder, token_start_mask

TEXT = (
    b"First Citizen: Before we proceed any further, hear me speak.\n\nAll: Speak, speak.\n"
    b"First Citizen: You are all resolved rather to die than to famish?\nAll: Resolved.\n"
) * 30
TOK = train_reference_bpe([TEXT], 600)
L = 96


def windows(n: int = 16, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    w = np.stack(
        [np.frombuffer(TEXT[offset + 37 * i : offset + 37 * i + L], np.uint8) for i in range(n)]
    )
    docs = np.zeros(w.shape, dtype=bool)
    docs[::3, 40] = True  # a document begins inside some windows
    return w.copy(), docs


def spans_of(span_id: np.ndarray) -> list[tuple[int, int, int]]:
    out = []
    for r in range(span_id.shape[0]):
        for k in np.unique(span_id[r][span_id[r] >= 0]).tolist():
            where = np.flatnonzero(span_id[r] == k)
            assert where[-1] - where[0] + 1 == where.size  # contiguous
            out.append((r, int(where[0]), int(where[-1]) + 1))
    return out


def ref_starts(w, docs, pad=None):
    return token_start_mask(
        layout_rows(reference_encoder(TOK), w, doc_starts=docs, pad=pad), w.shape
    )


def test_spans_are_a_function_of_text_and_seed():
    w, docs = windows()
    for protocol in PROTOCOLS:
        a = select_spans(protocol, w, docs, seed=3, reference=TOK)
        b = select_spans(protocol, w.copy(), docs.copy(), seed=3, reference=TOK)
        assert a.digest == b.digest and np.array_equal(a.span_id, b.span_id)
        assert select_spans(protocol, w, docs, seed=4, reference=TOK).digest != a.digest
        # the first rows' spans do not depend on which other rows are evaluated with them
        c = select_spans(protocol, w[:5], docs[:5], seed=3, reference=TOK)
        assert np.array_equal(c.span_id, a.span_id[:5])


def test_rate_is_the_share_of_units_chosen():
    w, docs = windows(64)
    spans = select_spans("bytes", w, docs, seed=0, reference=TOK)
    assert 0.12 < spans.hidden_bytes / w.size < 0.18
    assert spans.num_spans == spans.hidden_bytes  # one span per byte
    tokens = select_spans("tokens", w, docs, seed=0, reference=TOK)
    n_tokens = int(ref_starts(w, docs).sum())
    assert 0.11 < tokens.num_spans / n_tokens < 0.19


def test_token_spans_are_single_reference_tokens():
    w, docs = windows()
    spans = select_spans("tokens", w, docs, seed=1, reference=TOK)
    starts = ref_starts(w, docs)
    for r, a, b in spans_of(spans.span_id):
        assert starts[r, a] and (b == L or starts[r, b]) and not starts[r, a + 1 : b].any()


def test_word_spans_own_their_whitespace_and_grow_to_whole_tokens():
    w, docs = windows()
    spans = select_spans("words", w, docs, seed=2, reference=TOK)
    assert spans.units == "words" and spans.num_spans > 10
    starts = ref_starts(w, docs)
    grew = 0
    for r, a, b in spans_of(spans.span_id):
        assert starts[r, a] and (b == L or starts[r, b])  # whole reference tokens
        assert not docs[r, a + 1 : b].any()  # never across a document start
        text = w[r, a:b].tobytes()
        first = a == 0 or docs[r, a] or text[:1].isspace()
        grew += not first
        assert first or not w[r, a - 1 : a].tobytes().isspace()  # grown: a token crossed it
    assert grew < spans.num_spans / 4  # most spans start with their own whitespace


def test_unspaced_text_falls_back_to_tokens_and_gold_words_are_used():
    chars = list("今天气很好我们去公园散步吧的了是在有人这中大为上个国")
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(chars, size=600)).encode()
    tok = train_reference_bpe([text], 400)
    w = np.frombuffer(text[: 4 * 84], np.uint8).reshape(4, 84).copy()
    spans = select_spans("words", w, None, seed=0, reference=tok)
    assert spans.units == "tokens" and spans.hidden_bytes > 0
    gold = np.zeros(w.shape, dtype=bool)
    gold[:, ::6] = True  # 2-character gold words
    golden = select_spans("words", w, None, seed=0, reference=tok, gold_starts=gold)
    assert golden.units == "gold words" and golden.digest != spans.digest


def test_padding_is_never_hidden():
    w, docs = windows(4)
    pad = np.zeros(w.shape, dtype=bool)
    pad[:, 60:] = True
    for protocol in PROTOCOLS:
        spans = select_spans(protocol, w, docs, seed=0, reference=TOK, pad=pad)
        assert not (spans.hidden & pad).any() and spans.hidden_bytes > 0


def test_digest_names_the_windows_and_every_hidden_byte():
    w, docs = windows()
    spans = select_spans("words", w, docs, seed=0, reference=TOK)
    from bittrain.hidden.spans import hidden_digest

    pad = np.zeros(w.shape, dtype=bool)
    same = hidden_digest("words", spans.units, w, docs, pad, spans.span_id)
    assert same == spans.digest
    moved = spans.span_id.copy()
    r, a, _ = spans_of(moved)[0]
    moved[r, a] = -1
    assert hidden_digest("words", spans.units, w, docs, pad, moved) != spans.digest
    other = w.copy()
    other[0, 0] ^= 1
    assert hidden_digest("words", spans.units, other, docs, pad, spans.span_id) != spans.digest


def test_protocol_names_are_checked():
    assert resolve_protocols("all") == PROTOCOLS
    assert resolve_protocols("words, bytes") == ("words", "bytes")
    assert resolve_protocols(["tokens", "tokens"]) == ("tokens",)
    with pytest.raises(BittrainError, match="unknown"):
        resolve_protocols("sentences")
    w, docs = windows(2)
    with pytest.raises(BittrainError, match="reference BPE"):
        select_spans("tokens", w, docs, seed=0)
    with pytest.raises(BittrainError, match="outside"):
        select_spans("bytes", w, docs, seed=0, rate=1.5)
