"""bpb of any EvalModel on the hidden spans of a protocol (bittrain.hidden.spans), by the chain
rule inside each span or in one pass.

bpb = -log2 p(hidden bytes | visible context) / hidden bytes. A model's *units* are bytes
(bitswin, the byte baseline: ``hidden_byte_bits``) or its tokens (BPE, Hugging Face models:
``hidden_token_bits``, tokenised with cuts at every span edge). With ``chain=True`` the units of
every span are revealed left to right in layers: forward k hides the units k, k+1, ... of every
span (the earlier ones shown) and scores unit k of each. Within a layer spans are independent,
across layers each unit sees its span's earlier units, so the sum is the log-likelihood of a
proper distribution over all hidden bytes (a product of normalised conditionals). Forward k runs
only over rows that still have a span with a k-th unit. ``chain=False`` is the cheap one-pass
(independent) version: every unit hidden at once, one forward.

A token model is told how many tokens each hidden piece has (the [MASK]s), a byte model how many
bytes: each is scored on its own units of the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bittrain.engine.contracts import OptFlags, ScoresHiddenBytes, ScoresHiddenTokens, Windows
from bittrain.engine.modules import eval_mode
from bittrain.errors import BittrainError
from bittrain.hidden.spans import DEFAULT_RATE, HiddenSpans, resolve_protocols, select_spans


@dataclass(frozen=True)
class SpanScore:
    """Bits of the hidden bytes under one protocol, one scoring mode."""

    bits: float
    hidden_bytes: int
    units: int  # model units scored (bytes or tokens)
    forwards: float  # forward passes, in full passes over the windows

    @property
    def bpb(self) -> float | None:
        return self.bits / self.hidden_bytes if self.hidden_bytes else None


def granularity(model: Any) -> str:
    """ "byte" (``ScoresHiddenBytes``) or "token" (``ScoresHiddenTokens``)."""
    if isinstance(model, ScoresHiddenBytes):
        return "byte"
    if isinstance(model, ScoresHiddenTokens):
        return "token"
    raise BittrainError(
        f"{type(model).__name__} has neither hidden_byte_bits nor hidden_token_bits: it cannot "
        "be scored under the evaluation protocols (docs/interfaces.md, Evaluation)"
    )


def supports(model: Any, protocol: str) -> bool:
    """Whether ``model`` can be scored under ``protocol`` (``bytes``: byte-granular only)."""
    return protocol != "bytes" or granularity(model) == "byte"


def _sub(array: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if array is None else np.asarray(array)[rows]


def _unit_index(spans: HiddenSpans, unit_starts: np.ndarray) -> np.ndarray:
    """int [N, L]: index of the model unit each hidden byte belongs to inside its span
    (0, 1, ...), -1 for hidden bytes before a span's first unit (bytes a foreign tokenizer
    skips), and -1 where shown."""
    hidden = spans.hidden
    count = np.cumsum(unit_starts & hidden, axis=1)  # [N, L]
    first = spans.span_starts()
    # units counted before each span: the count just before its first byte
    before = np.where(first, count - (unit_starts & hidden), 0)
    run = np.maximum.accumulate(np.where(first, np.arange(hidden.shape[1]), -1), axis=1)
    base = np.take_along_axis(before, np.maximum(run, 0), axis=1)
    index = count - base - 1
    return np.where(hidden, index, -1)


def score_spans(
    model: Any,
    windows: Windows,
    spans: HiddenSpans,
    *,
    doc_starts: OptFlags = None,
    pad: OptFlags = None,
    chain: bool = True,
) -> SpanScore:
    """Bits of ``spans``'s hidden bytes under ``model`` (see the module doc)."""
    windows = np.asarray(windows)
    if spans.span_id.shape != windows.shape:
        raise BittrainError(
            f"hidden spans of shape {spans.span_id.shape} do not fit windows {windows.shape}: "
            "select them on these windows"
        )
    if not supports(model, spans.protocol):
        raise BittrainError(
            f"a {model.kind} model cannot be scored under protocol "
            f"'{spans.protocol}' (hidden bytes are not whole tokens): use tokens or words"
        )
    hidden = spans.hidden
    n = windows.shape[0]
    if granularity(model) == "byte":
        unit_starts = hidden

        def bits_of(rows: np.ndarray, hide: np.ndarray) -> np.ndarray:
            return model.hidden_byte_bits(
                windows[rows], hide, doc_starts=_sub(doc_starts, rows), pad=_sub(pad, rows)
            )
    else:
        edges = spans.edges()
        unit_starts = model.token_starts(windows, doc_starts=doc_starts, pad=pad, cuts=edges)

        def bits_of(rows: np.ndarray, hide: np.ndarray) -> np.ndarray:
            return model.hidden_token_bits(
                windows[rows],
                hide,
                doc_starts=_sub(doc_starts, rows),
                pad=_sub(pad, rows),
                cuts=edges[rows],
            )

    scored = unit_starts & hidden  # [N, L] where a unit's bits land
    if not hidden.any():
        return SpanScore(0.0, 0, 0, 0.0)
    index = _unit_index(spans, unit_starts)
    every = np.arange(n)
    if not chain:
        bits = bits_of(every, hidden)
        return SpanScore(float(bits[scored].sum()), int(hidden.sum()), int(scored.sum()), 1.0)
    total, rows_forwarded = 0.0, 0
    for k in range(int(index.max()) + 1):
        here = scored & (index == k)  # [N, L] the k-th unit of each span
        rows = np.flatnonzero(here.any(axis=1))
        hide = hidden[rows] & ((index[rows] >= k) | (index[rows] < 0))  # earlier units shown
        bits = bits_of(rows, hide)
        total += float(bits[here[rows]].sum())
        rows_forwarded += rows.size
    return SpanScore(total, int(hidden.sum()), int(scored.sum()), rows_forwarded / n)


def protocol_scores(
    eval_model: Any,
    windows: Windows,
    doc_starts: np.ndarray | None,
    protocols: str | Sequence[str],
    *,
    seed: int,
    chain: bool,
    reference: Any = None,
    spans: dict[str, HiddenSpans] | None = None,
    pad: OptFlags = None,
    rate: float = DEFAULT_RATE,
) -> dict[str, float | None]:
    """``{"bpb_<protocol>": bpb}`` for each protocol the model supports (others are left out):
    the entry point of the trainer's validation. Pass ``spans`` (from :func:`select_spans`,
    computed once for fixed windows) or ``reference`` (the corpus's reference BPE) to select
    them here. The module's train/eval mode is left as it was found."""
    out: dict[str, float | None] = {}
    with eval_mode(eval_model.model):
        for protocol in resolve_protocols(protocols):
            if not supports(eval_model, protocol):
                continue
            chosen = (spans or {}).get(protocol) or select_spans(
                protocol, windows, doc_starts, seed=seed, reference=reference, rate=rate, pad=pad
            )
            score = score_spans(
                eval_model, windows, chosen, doc_starts=doc_starts, pad=pad, chain=chain
            )
            out[f"bpb_{protocol}"] = score.bpb
    return out


def evaluate_protocol(
    model: Any,
    windows: Windows,
    spans: HiddenSpans,
    *,
    doc_starts: OptFlags = None,
    pad: OptFlags = None,
) -> dict[str, Any]:
    """The eval JSON's entry for one protocol: chain-rule ``bpb``, ``bpb_one_pass``, the spans'
    description (``hidden_digest`` ...), or ``bpb`` None with the reason for a model that cannot
    be scored under it."""
    entry: dict[str, Any] = spans.as_dict()
    if not supports(model, spans.protocol):
        entry.update(bpb=None, bpb_one_pass=None, note="not a byte-granular model")
        return entry
    chained = score_spans(model, windows, spans, doc_starts=doc_starts, pad=pad, chain=True)
    single = score_spans(model, windows, spans, doc_starts=doc_starts, pad=pad, chain=False)
    entry.update(
        bpb=chained.bpb,
        bpb_one_pass=single.bpb,
        model_units=chained.units,
        chain_forwards=chained.forwards,
        unit="byte" if granularity(model) == "byte" else "token",
    )
    return entry
