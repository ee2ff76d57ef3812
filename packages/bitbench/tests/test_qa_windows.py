"""Windows over contexts, answers mapped to model units and back to the exact context
characters (byte and token models, multi-byte UTF-8, answers at a window edge), and the best
span over overlapping windows returned once."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from bitbaselines import BpeMLM, BpeMLMConfig, ByteMLM
from bitbaselines.bpe import train_reference_bpe
from bitbaselines.config import ByteMLMConfig
from bitbench.errors import BitbenchError
from bitbench.qa.batches import layouts_of
from bitbench.qa.data import load_squad
from bitbench.qa.head import WindowBest, best_spans, pick_answers, target_units
from bitbench.qa.split import examples
from bitbench.qa.windows import (
    SEPARATOR,
    ContextBytes,
    QAWindow,
    WindowSettings,
    context_windows,
    question_bytes,
    windows_of,
)
from bittrain.errors import BittrainError
from bittrain.hidden.token_layout import reference_encoder
from bittrain.tasks.baseline_eval import BpeEvalModel, ByteEvalModel
from bittrain.tasks.span_encoders import HasSpanEncoder, TokenSpanEncoder, pad_layouts

TINY = Path(__file__).parent / "data" / "qa_tiny.json"
ITEMS = examples(load_squad(TINY).articles)
SMALL = WindowSettings(length=96, stride=24, max_question_bytes=48)


@pytest.fixture(scope="module")
def tokenizer():
    return train_reference_bpe([ex.context.encode() for ex in ITEMS], vocab_size=300)


@pytest.fixture(scope="module")
def encoders(tokenizer):
    torch.manual_seed(0)
    byte = ByteEvalModel(ByteMLM(ByteMLMConfig(d_model=16, n_layers=1, n_heads=2, window=8)))
    config = BpeMLMConfig(d_model=16, n_layers=1, n_heads=2, vocab_size=300)
    bpe = BpeEvalModel(BpeMLM(config), tokenizer)
    assert isinstance(byte, HasSpanEncoder) and isinstance(bpe, HasSpanEncoder)
    return {"byte": byte.span_encoder(), "bpe": bpe.span_encoder()}


def test_context_windows_cover_overlap_and_keep_characters_whole():
    ctx = ContextBytes.of(ITEMS[-1].context + ITEMS[-4].context)  # Chinese: 3 bytes a character
    windows = context_windows(ctx, piece=40, stride=12)
    assert windows[0][0] == 0 and windows[-1][1] == len(ctx.data) and len(windows) > 3
    starts = set(ctx.char_start.tolist())
    for (a0, a1), (b0, _) in itertools.pairwise(windows):
        assert a0 in starts and a1 in starts and a1 - a0 <= 40
        assert 12 <= a1 - b0 <= 12 + 3  # the overlap, snapped to a character start
    assert context_windows(ContextBytes.of("short"), 40, 12) == [(0, 5)]


def test_question_bytes_cut_at_a_character_boundary():
    assert question_bytes("长城东起哪里？", 7) == "长城".encode()  # 6 bytes: the 3rd char would cut
    assert question_bytes("  Who?  ", 10) == b"Who?"


def test_character_spans_of_byte_spans():
    ctx = ContextBytes.of("a长城b")  # bytes: a | 3 | 3 | b
    assert ctx.chars(1, 7) == (1, 3)
    assert ctx.chars(2, 5) == (1, 3)  # bytes inside a character widen to the whole character
    assert ctx.byte_span(1, 3) == (1, 7)


@pytest.mark.parametrize("kind", ["byte", "bpe"])
def test_every_answer_maps_back_to_context_characters(encoders, kind):
    encoder = encoders[kind]
    contexts = [ContextBytes.of(ex.context) for ex in ITEMS]
    windows = windows_of(contexts, [ex.question for ex in ITEMS], SMALL)
    layouts = layouts_of(encoder, windows, [c.data for c in contexts])
    held = 0
    for w, layout in zip(windows, layouts, strict=True):
        ex, ctx = ITEMS[w.example], contexts[w.example]
        assert layout.ids.size <= SMALL.length + 2
        ctx_units = layout.start >= 0
        assert layout.start[ctx_units].min() >= w.b0 and layout.end[ctx_units].max() <= w.b1
        if ex.located is None:
            continue
        a0, a1 = ctx.byte_span(ex.located.start, ex.located.end)
        units = target_units(layout, a0, a1)
        assert (units is not None) == (w.b0 <= a0 and a1 <= w.b1)
        if units is None:
            continue
        held += 1
        c0, c1 = ctx.chars(int(layout.start[units[0]]), int(layout.end[units[1]]))
        if kind == "byte":  # byte units: exactly the answer's characters
            assert ctx.text[c0:c1] == ex.located.text
        else:  # whole tokens: the answer, and at most the rest of its edge tokens
            assert ex.located.text in ctx.text[c0:c1]
            assert ctx.text[c0:c1].strip() == ex.located.text  # ByteLevel tokens carry a space
    assert held >= len([ex for ex in ITEMS if ex.located])  # every answer is in some window


@pytest.mark.parametrize("kind", ["byte", "bpe"])
def test_answers_at_a_window_edge(encoders, kind):
    text = "长城是中国古代的军事防御工程，东起山海关。"
    ctx = ContextBytes.of(text)
    a0, a1 = ctx.byte_span(text.index("山海关"), text.index("山海关") + 3)
    q = "长城东起哪里？".encode()
    for b0, b1 in ((a0, a1), (0, a1), (a0, len(ctx.data))):  # the answer fills / ends / starts it
        layout = layouts_of(encoders[kind], [QAWindow(0, q, b0, b1)], [ctx.data])[0]
        units = target_units(layout, a0, a1)
        assert units is not None
        c0, c1 = ctx.chars(int(layout.start[units[0]]), int(layout.end[units[1]]))
        assert ctx.text[c0:c1] == "山海关"
    cut = layouts_of(encoders[kind], [QAWindow(0, q, 0, a1 - 3)], [ctx.data])[0]
    assert target_units(cut, a0, a1) is None  # the window ends inside the answer


def test_token_layout_with_cls_and_sep(tokenizer):
    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = type("C", (), {"hidden_size": 4})()
            self.w = torch.nn.Parameter(torch.zeros(1))

    enc = TokenSpanEncoder(Tiny(), reference_encoder(tokenizer), pad_id=0, mask_id=1,
                           max_tokens=64, own_forward=False, hidden_size=8, bos=2,
                           eos=3)  # fmt: skip
    ctx = ContextBytes.of("The Thames flows through London.")
    layout = layouts_of(enc, [QAWindow(0, b"Where?", 0, len(ctx.data))], [ctx.data])[0]
    assert layout.ids[0] == 2 and layout.ids[-1] == 3 and (layout.ids == 3).sum() == 2
    sep = int(np.flatnonzero(layout.ids == 3)[0])
    assert (layout.start[: sep + 1] == -1).all() and layout.start[-1] == -1
    assert layout.start[sep + 1] == 0 and layout.end[-2] == len(ctx.data)
    with pytest.raises(BittrainError, match="more than the model's 8 positions"):
        short = TokenSpanEncoder(
            Tiny(),
            reference_encoder(tokenizer),
            pad_id=0,
            mask_id=1,
            max_tokens=8,
            own_forward=True,
            hidden_size=8,
        )
        layouts_of(short, [QAWindow(0, b"Where?", 0, len(ctx.data))], [ctx.data])  # fmt: skip


def test_best_span_of_a_window_by_hand():
    # 1 question byte, the separator, then 4 context bytes (context bytes 10..13)
    start = torch.tensor([[-1, -1, 10, 11, 12, 13]])
    end = torch.where(start >= 0, start + 1, -1)
    pad = torch.zeros(1, 6, dtype=torch.bool)
    s = torch.tensor([[9.0, 0.0, 1.0, 3.0, 0.0, 0.0]])
    e = torch.tensor([[9.0, 0.0, 5.0, 0.0, 1.0, 2.0]])
    # pairs i <= j over context units: best start 11 (3.0) with best later end 13 (2.0) = 5.0,
    # vs start 10 + end 10 = 6.0: the answer is byte 10 alone; unit 0 is never a span
    best = best_spans(s, e, start, end, pad, max_answer_bytes=8)[0]
    assert (best.b0, best.b1, best.score, best.null) == (10, 11, 6.0, 18.0)
    e2 = torch.tensor([[9.0, 0.0, -5.0, 0.0, 1.0, 2.0]])
    best = best_spans(s, e2, start, end, pad, max_answer_bytes=8)[0]
    assert (best.b0, best.b1, best.score) == (11, 14, 5.0)
    best = best_spans(s, e2, start, end, pad, max_answer_bytes=2)[0]  # 3 bytes is too long
    assert (best.b0, best.b1, best.score) == (11, 13, 4.0)
    assert best_spans(s, e, torch.full((1, 6), -1), end, pad, 8) == [None]


def test_overlapping_windows_return_the_best_span_once():
    same = [WindowBest(5.0, 10, 14, 0.0), WindowBest(7.0, 10, 14, 1.0), None]
    assert pick_answers([same], no_answer=False) == [(10, 14)]
    other = [WindowBest(5.0, 10, 14, 0.0), WindowBest(4.0, 30, 32, 0.0)]
    assert pick_answers([other, [None]], no_answer=False) == [(10, 14), None]
    # no answer when the lowest null score beats the best span: min(9, 6) = 6 > 5
    nulls = [WindowBest(5.0, 10, 14, 9.0), WindowBest(4.0, 30, 32, 6.0)]
    assert pick_answers([nulls], no_answer=True) == [None]
    assert pick_answers([nulls], no_answer=False) == [(10, 14)]


def test_pad_layouts_and_settings_errors(encoders):
    ctx = ContextBytes.of("abc")
    layouts = layouts_of(
        encoders["byte"], [QAWindow(0, b"q", 0, 3), QAWindow(0, b"q", 0, 1)], [ctx.data]
    )
    batch = pad_layouts(layouts, pad_id=257)
    assert batch["ids"].shape == (2, 5) and batch["pad"][1].tolist() == [False] * 3 + [True] * 2
    assert batch["ids"][0, 1] == SEPARATOR[0] and batch["start"][0].tolist() == [-1, -1, 0, 1, 2]
    with pytest.raises(BitbenchError, match="--window 60"):
        WindowSettings(length=60, max_question_bytes=48).check()
    with pytest.raises(BitbenchError, match="--stride"):
        WindowSettings(length=384, stride=200).check()
