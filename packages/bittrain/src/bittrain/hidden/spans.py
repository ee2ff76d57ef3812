"""Evaluation protocols: which bytes of the evaluation windows are hidden, the same for every
model kind (DESIGN.md "Metrics"), and a digest of them.

The hidden spans are a function of the text alone (the windows, their document starts and
padding), the seed and the corpus's reference BPE; no model takes part, so a bitswin run, the
byte and BPE baselines and a Hugging Face model evaluated on one corpus and seed hide exactly the
same bytes, and their ``hidden_digest`` is equal.

- ``tokens``: ``rate`` of the reference BPE's tokens (BERT's own task, any language).
- ``words``: ``rate`` of the whitespace-delimited words, each with the whitespace before it (the
  bytes a byte-level BPE token such as "Ġword" covers); with gold starts (a segmented file), the
  gold words. Where a reference BPE token crosses a chosen span's edge, the span grows to that
  token's bytes (spans that then overlap become one). Text with almost no whitespace (fewer than
  one word start per ``MAX_WORD_BYTES`` bytes, e.g. Chinese) and no gold falls back to ``tokens``
  (``units`` says so).
- ``bytes``: ``rate`` of the single bytes (scattered; byte-granular models only).

A unit is chosen when a hash of (seed, protocol, row, its first byte's position) falls below
``rate``: no unit's fate depends on another's, on the batch, or on the library version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from bitcodec.facts import CharClass, char_classes

from bittrain.engine.inputs import byte_windows
from bittrain.errors import BittrainError
from bittrain.hidden.token_layout import layout_rows, reference_encoder, token_start_mask

PROTOCOLS = ("tokens", "words", "bytes")
DEFAULT_RATE = 0.15
MAX_WORD_BYTES = 32  # mean bytes per whitespace word above which text counts as unspaced
_STREAMS = {"tokens": 1, "words": 2, "bytes": 3}
DIGEST_VERSION = b"bitbench-hidden-v1"


@dataclass(frozen=True)
class HiddenSpans:
    """The hidden spans of N windows of L bytes under one protocol."""

    protocol: str
    units: str  # what was chosen: "tokens", "words", "gold words", "bytes"
    span_id: np.ndarray  # int32 [N, L]: -1 where shown, else the span's index in its row
    seed: int
    rate: float
    digest: str

    @property
    def hidden(self) -> np.ndarray:
        """bool [N, L]: the hidden bytes."""
        return self.span_id >= 0

    @property
    def hidden_bytes(self) -> int:
        return int(self.hidden.sum())

    @property
    def num_spans(self) -> int:
        starts = self.span_starts()
        return int(starts.sum())

    def span_starts(self) -> np.ndarray:
        """bool [N, L]: the first byte of every span."""
        prev = np.concatenate([np.full((self.span_id.shape[0], 1), -1), self.span_id[:, :-1]], 1)
        return (self.span_id >= 0) & (self.span_id != prev)

    def edges(self) -> np.ndarray:
        """bool [N, L]: where a span starts or the byte after a span's end (tokenisation cuts)."""
        nxt = np.concatenate([self.span_id[:, 1:], np.full((self.span_id.shape[0], 1), -1)], 1)
        after_end = np.zeros_like(self.span_starts())
        ends = (self.span_id >= 0) & (self.span_id != nxt)  # [N, L] last byte of a span
        after_end[:, 1:] = ends[:, :-1]
        return self.span_starts() | after_end

    def as_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "units": self.units,
            "seed": self.seed,
            "rate": self.rate,
            "hidden_bytes": self.hidden_bytes,
            "hidden_spans": self.num_spans,
            "hidden_digest": self.digest,
        }


def resolve_protocols(names: str | Sequence[str]) -> tuple[str, ...]:
    """'words', 'tokens,words', 'all' or a list of names -> the protocols, checked, in order."""
    items = [names] if isinstance(names, str) else list(names)
    out: list[str] = []
    for item in items:
        for name in (p.strip() for p in str(item).split(",")):
            if not name:
                continue
            chosen = PROTOCOLS if name == "all" else (name,)
            for p in chosen:
                if p not in PROTOCOLS:
                    raise BittrainError(
                        f"protocol {p!r} is unknown: use {', '.join(PROTOCOLS)} or all"
                    )
                if p not in out:
                    out.append(p)
    if not out:
        raise BittrainError(f"no protocol given: use {', '.join(PROTOCOLS)} or all")
    return tuple(out)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def unit_uniform(seed: int, protocol: str, shape: tuple[int, int]) -> np.ndarray:
    """float64 [N, L] in [0, 1): a pure function of (seed, protocol, row, position)."""
    n, length = shape
    with np.errstate(over="ignore"):
        key = _splitmix64(np.array([(seed & (2**64 - 1))], dtype=np.uint64))
        key = _splitmix64(key ^ np.uint64(_STREAMS[protocol]))
        rows = _splitmix64(key ^ np.arange(n, dtype=np.uint64))  # [N]
        x = _splitmix64(
            rows[:, None] ^ (np.arange(length, dtype=np.uint64)[None, :] << np.uint64(32))
        )
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _space_flags(windows: np.ndarray) -> np.ndarray:
    return np.asarray(char_classes(np.ascontiguousarray(windows))) == int(CharClass.SPACE)


def _piece_starts(real: np.ndarray, doc_starts: np.ndarray) -> np.ndarray:
    """bool [N, L]: first real byte of each run of real bytes, and document starts."""
    prev = np.concatenate([np.zeros((real.shape[0], 1), dtype=bool), real[:, :-1]], axis=1)
    return real & (~prev | doc_starts)


def _unit_starts(
    protocol: str,
    windows: np.ndarray,
    real: np.ndarray,
    doc_starts: np.ndarray,
    gold_starts: np.ndarray | None,
    token_starts: np.ndarray | None,
) -> tuple[np.ndarray, str]:
    pieces = _piece_starts(real, doc_starts)
    if protocol == "bytes":
        return real.copy(), "bytes"
    if protocol == "words" and gold_starts is not None:
        return real & (np.asarray(gold_starts, dtype=bool) | pieces), "gold words"
    if protocol == "words":
        space = _space_flags(windows)
        prev = np.concatenate([np.zeros((space.shape[0], 1), dtype=bool), space[:, :-1]], axis=1)
        starts = real & (pieces | (space & ~prev))  # each word owns the whitespace before it
        if real.sum() <= MAX_WORD_BYTES * max(1, int(starts.sum())):
            return starts, "words"
    assert token_starts is not None
    return real & (token_starts | pieces), "tokens"


def _next_at_or_after(flags: np.ndarray) -> np.ndarray:
    """int [L]: the first index >= i where ``flags`` (bool [L]) is True, or L."""
    n = flags.size
    idx = np.where(flags, np.arange(n), n)
    return np.minimum.accumulate(idx[::-1])[::-1]


def select_spans(
    protocol: str,
    windows: np.ndarray,
    doc_starts: np.ndarray | None = None,
    *,
    seed: int,
    reference: Any = None,
    rate: float = DEFAULT_RATE,
    pad: np.ndarray | None = None,
    gold_starts: np.ndarray | None = None,
) -> HiddenSpans:
    """The hidden spans of ``windows`` (uint8 [N, L]) under ``protocol`` (see the module doc).
    ``reference`` is the corpus's reference BPE (needed by ``tokens`` and ``words``)."""
    (protocol,) = resolve_protocols(protocol)
    if not 0.0 < rate < 1.0:
        raise BittrainError(f"hidden rate {rate} is outside (0, 1): use e.g. 0.15")
    windows = byte_windows(windows)
    shape = windows.shape
    real = np.ones(shape, dtype=bool) if pad is None else ~np.asarray(pad, dtype=bool)
    docs = np.zeros(shape, dtype=bool) if doc_starts is None else np.asarray(doc_starts, bool)
    token_starts = None
    if protocol != "bytes":
        if reference is None:
            raise BittrainError(
                f"protocol {protocol!r} needs the corpus's reference BPE "
                "(bitbaselines.bpe.reference_bpe(corpus.train))"
            )
        rows = layout_rows(reference_encoder(reference), windows, doc_starts=docs, pad=~real)
        token_starts = token_start_mask(rows, shape)
    starts, units = _unit_starts(protocol, windows, real, docs, gold_starts, token_starts)
    chosen = starts & (unit_uniform(seed, protocol, shape) < rate)  # [N, L]
    span_id = np.full(shape, -1, dtype=np.int32)
    for r in range(shape[0]):
        if not chosen[r].any():
            continue
        boundary = starts[r] | ~real[r]  # a unit ends where the next starts or the text stops
        unit_end = _next_at_or_after(np.concatenate([boundary[1:], [True]])) + 1  # [L]
        spans = [(a, int(unit_end[a])) for a in np.flatnonzero(chosen[r]).tolist()]
        if units in ("words", "gold words"):  # grow to the reference tokens crossing an edge
            tok = token_starts[r] | ~real[r]
            prev_tok = np.maximum.accumulate(np.where(tok, np.arange(shape[1]), 0))
            next_tok = _next_at_or_after(tok)
            spans = [(int(prev_tok[a]), int(next_tok[b]) if b < shape[1] else b) for a, b in spans]
        merged: list[list[int]] = []
        for a, b in spans:  # sorted by start; overlapping spans become one
            if merged and a < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        for k, (a, b) in enumerate(merged):
            span_id[r, a:b] = k
    span_id[~real] = -1
    digest = hidden_digest(protocol, units, windows, docs, ~real, span_id)
    return HiddenSpans(protocol, units, span_id, int(seed), float(rate), digest)


def hidden_digest(
    protocol: str,
    units: str,
    windows: np.ndarray,
    doc_starts: np.ndarray,
    pad: np.ndarray,
    span_id: np.ndarray,
) -> str:
    """blake2b-128 hex of the protocol, the windows (bytes, document starts, padding) and the
    hidden spans: equal digests mean two evaluations were asked the same thing."""
    h = hashlib.blake2b(DIGEST_VERSION, digest_size=16)
    for part in (protocol.encode(), units.encode(), np.asarray(windows.shape, "<i8").tobytes()):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    h.update(np.ascontiguousarray(windows, dtype=np.uint8).tobytes())
    h.update(np.packbits(np.asarray(doc_starts, dtype=bool)).tobytes())
    h.update(np.packbits(np.asarray(pad, dtype=bool)).tobytes())
    h.update(np.ascontiguousarray(span_id, dtype="<i4").tobytes())
    return h.hexdigest()
