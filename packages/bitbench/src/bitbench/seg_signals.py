"""Which model score decides where words start (``--signal``), higher = a word starts.

- ``head``: the boundary head (``model.boundary_scores``, the run's own unit-start score).
- ``pmi``: how little the previous character tells about this one, from the masked model
  itself (perturbed masking): with b(x | hidden set) = -log2 p(x | everything else) of a whole
  character x (``hidden_byte_bits``, all bytes of the hidden characters hidden),

      pmi_fwd(t) = b(x_t | {t-1, t} hidden) - b(x_t | {t} hidden)
      pmi_bwd(t) = b(x_{t-1} | {t-1, t} hidden) - b(x_{t-1} | {t-1} hidden)

  is a conditional PMI between neighbours (in bits); the signal is -(pmi_fwd + pmi_bwd) / 2 at
  character t: a word starts where its characters do not lean on the one before. Characters
  t = r, r + stride, ... are hidden alone and with the character before, for r < ``stride``.
  A character's bits are its bytes' bits by the chain rule inside the character (``chain``,
  the default: the bytes revealed one by one, one forward per byte place, so a Chinese
  character takes 3) or, unchained, the bytes' bits from one forward with all of them hidden
  (cheaper, but it scores the bytes of a character as if independent: a Chinese character
  then costs far more bits than its unigram probability, and the PMI drowns in that noise).
  Passes per window: unchained 2 * ``stride``, chained 3 * bytes per character * ``stride``.
- ``surprisal``: b(x_t | {t} hidden) from the same passes (first characters of words are the
  hard ones to guess).

- ``counts``: no model: n-gram statistics of raw text (``seg_counts``: PMI, pair frequency and
  branching entropy of neighbouring atoms), the baseline every model signal is measured against.
- ``probe``: the counts' cuts of that raw text learned by a probe on the model's byte states
  (``seg_probe``: self-training, the counts are the teacher; no gold).

Signals joined by ``+`` (``pmi+head``, ``counts+0.5*pmi``) are each standardised over the
characters scored (zero mean, unit variance) and summed, each times its weight (``W*name``; 1
when none is given). The mask-based signals need a model with
``hidden_byte_bits(windows uint8 [N, L], hidden bool [N, L], *, doc_starts=None, pad=None) ->
float32 [N, L]`` (-log2 p(true byte | shown bytes) at hidden positions, 0 elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from bittrain.engine.contracts import ScoresHiddenBytes

from bitbench.errors import BitbenchError
from bitbench.seg_counts import CountStats, count_scorer
from bitbench.seg_probe import ProbeSetup, probe_scores
from bitbench.segment import ByteScorer, Progress, score_in_windows, score_sequences

MASK_SIGNALS = ("pmi", "lean", "surprisal")
COUNT_SIGNAL = "counts"
PROBE_SIGNAL = "probe"
TEXT_SIGNALS = (COUNT_SIGNAL, PROBE_SIGNAL)  # read raw text (bitlab segment --corpus)
SIGNALS = ("head", *MASK_SIGNALS, *TEXT_SIGNALS)
DEFAULT_STRIDE = 4

HiddenByteBits = Callable[..., np.ndarray]


@dataclass(frozen=True)
class SignalTerm:
    """One signal of a ``+`` sum and its weight (``0.5*pmi``)."""

    name: str
    weight: float = 1.0


def parse_signal_terms(spec: str) -> list[SignalTerm]:
    """``"counts+0.5*pmi"`` -> [counts x 1, pmi x 0.5] (names from ``SIGNALS``, each once,
    weights >= 0)."""
    terms: list[SignalTerm] = []
    for part in (p.strip() for p in spec.split("+")):
        if not part:
            continue
        weight_text, _, name = part.rpartition("*")
        name = name.strip()
        if name not in SIGNALS:
            raise BitbenchError(
                f"unknown signal '{name}': use one of {', '.join(SIGNALS)}, or several joined by "
                "+, each with an optional weight (e.g. pmi+head, counts+0.5*pmi)"
            )
        try:
            weight = float(weight_text) if weight_text.strip() else 1.0
        except ValueError:
            weight = -1.0
        if not weight >= 0.0 or not np.isfinite(weight):
            raise BitbenchError(
                f"the weight of '{part}' is not a number >= 0: write it as W*{name}, e.g. 0.5*{name}"
            )
        if any(t.name == name for t in terms):
            raise BitbenchError(f"signal '{name}' appears twice in '{spec}': give it once")
        terms.append(SignalTerm(name, weight))
    if not terms:
        raise BitbenchError(f"no signal in '{spec}': use one of {', '.join(SIGNALS)}")
    return terms


def parse_signal(spec: str) -> list[str]:
    """``"pmi+head"`` -> ``["pmi", "head"]``: the names of ``parse_signal_terms``."""
    return [t.name for t in parse_signal_terms(spec)]


def char_positions(windows: np.ndarray, pad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts bool [M, W]: first bytes of characters, index int64 [M, W]: the character each
    byte belongs to, counted from 0 in its row; -1 on padding)."""
    starts = ((windows & 0xC0) != 0x80) & ~pad
    index = np.cumsum(starts, axis=1) - 1
    return starts, np.where(pad, -1, index)


def byte_offsets(starts: np.ndarray, pad: np.ndarray) -> np.ndarray:
    """int64 [M, W]: each byte's place in its character (0 at the first byte), -1 on padding;
    ``starts`` from ``char_positions``."""
    pos = np.broadcast_to(np.arange(starts.shape[1]), starts.shape)
    first = np.maximum.accumulate(np.where(starts, pos, 0), axis=1)
    return np.where(pad, -1, pos - first)


def chain_byte_bits(
    hidden_byte_bits: HiddenByteBits,
    windows: np.ndarray,
    pad: np.ndarray,
    scored: np.ndarray,
    offset: np.ndarray,
    also: np.ndarray | None = None,
) -> np.ndarray:
    """float32 [M, W]: -log2 p of each ``scored`` byte (bool [M, W], whole characters) by the
    chain rule inside its character: pass k hides bytes k, k+1, .. of every scored character
    (its earlier bytes shown) and every ``also`` byte, and scores byte k. Summed over a
    character this is the log-probability of the whole character, where one pass would score
    its bytes as if independent (the second byte of a Chinese character says much about the
    third). Pass k runs only over rows that have a k-th byte to score."""
    out = np.zeros(windows.shape, dtype=np.float32)
    if not scored.any():
        return out
    also = np.zeros_like(scored) if also is None else also
    for k in range(int(offset[scored].max()) + 1):
        here = scored & (offset == k)  # [M, W]
        rows = np.flatnonzero(here.any(axis=1))
        if rows.size == 0:
            continue
        hide = also[rows] | (scored[rows] & (offset[rows] >= k))
        bits = hidden_byte_bits(windows[rows], hide, pad=pad[rows])
        out[rows] += np.where(here[rows], bits, 0.0).astype(np.float32)
    return out


def _char_bits(bits: np.ndarray, index: np.ndarray, n_chars: int) -> np.ndarray:
    """Per-byte bits [M, W] summed per character -> float64 [M, n_chars]."""
    m = bits.shape[0]
    out = np.zeros((m, n_chars + 1), dtype=np.float64)
    rows = np.broadcast_to(np.arange(m)[:, None], index.shape)
    np.add.at(out, (rows, np.where(index < 0, n_chars, index)), bits)
    return out[:, :n_chars]


def mask_signals(
    hidden_byte_bits: HiddenByteBits,
    windows: np.ndarray,
    pad: np.ndarray,
    stride: int = DEFAULT_STRIDE,
    names: Sequence[str] = MASK_SIGNALS,
    chain: bool = True,
) -> dict[str, np.ndarray]:
    """float32 [M, W] per signal in ``names`` at the first byte of every character (0 elsewhere,
    and at a row's first character, which has no neighbour before it). Only the passes the
    signals need are run: pairs for ``pmi`` and ``lean``, singles for ``pmi`` and ``surprisal``;
    with ``chain`` each by the chain rule inside the scored characters (``chain_byte_bits``)."""
    if stride < 3:
        raise BitbenchError(
            f"stride is {stride}: use >= 3 (with 2, a pair pass would hide every character)"
        )
    windows = np.ascontiguousarray(windows, dtype=np.uint8)
    pad = np.asarray(pad, dtype=bool)
    starts, index = char_positions(windows, pad)
    n_chars = int(index.max()) + 1 if index.size else 0
    real = index >= 0
    single = np.zeros((windows.shape[0], n_chars))  # b(x_t | t hidden)
    pair_right = np.zeros_like(single)  # b(x_t | t-1, t hidden)
    pair_left = np.zeros_like(single)  # b(x_{t-1} | t-1, t hidden), stored at t
    cls = np.where(real, index % stride, -1)  # [M, W] each byte's character class mod stride
    need_single = any(n in ("pmi", "surprisal") for n in names)
    need_pairs = any(n in ("pmi", "lean") for n in names)
    offset = byte_offsets(starts, pad)

    def bits_of(scored: np.ndarray, also: np.ndarray | None = None) -> np.ndarray:
        """Bits per character [M, chars] of the characters whose bytes are ``scored``, with
        ``also`` hidden too (not scored)."""
        if chain:
            bits = chain_byte_bits(hidden_byte_bits, windows, pad, scored, offset, also)
        else:
            hide = scored if also is None else scored | also
            bits = hidden_byte_bits(windows, hide, pad=pad)
        return _char_bits(bits, index, n_chars)

    for r in range(stride):
        this, before = real & (cls == r), real & (cls == (r - 1) % stride)
        if need_single:
            single[:, r::stride] = bits_of(this)[:, r::stride]
        if need_pairs:
            right = bits_of(this, before)
            left = right if not chain else bits_of(before, this)  # one pass scores both unchained
            pair_right[:, r::stride] = right[:, r::stride]
            left = left[:, (r - 1) % stride :: stride]  # characters t - 1 of this pass
            first = r if r >= 1 else stride  # t of the first pair whose t - 1 >= 0
            pair_left[:, first::stride] = left[:, : pair_left[:, first::stride].shape[1]]
    per_char: dict[str, np.ndarray] = {}
    if "pmi" in names:
        pmi = pair_right - single
        pmi[:, 1:] += pair_left[:, 1:] - single[:, :-1]
        per_char["pmi"] = -pmi / 2.0
    if "surprisal" in names:
        per_char["surprisal"] = single
    if "lean" in names:
        per_char["lean"] = _lean(pair_left, pair_right, index)
    rows, cols = np.nonzero(starts)
    out = {}
    for name, values_per_char in per_char.items():
        values_per_char[:, 0] = 0.0  # no neighbour before a row's first character
        values = np.zeros(windows.shape, dtype=np.float32)
        values[rows, cols] = values_per_char[rows, index[rows, cols]]
        out[name] = values
    return out


def _lean(pair_left: np.ndarray, pair_right: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Does character t lean on its right neighbour rather than its left one (and t - 1 on its
    left rather than its right)? From the pair passes only, so both sides of every comparison
    have two characters hidden:

        d_t = b(x_t | t, t+1 hidden) - b(x_t | t-1, t hidden)
        e_t = b(x_{t-1} | t-2, t-1 hidden) - b(x_{t-1} | t-1, t hidden)

    averaged over the terms a row has (float64 [M, chars]); high = a word starts at t."""
    m, n = pair_left.shape
    n_row = index.max(axis=1) + 1 if index.size else np.zeros(m, dtype=np.int64)  # [M]
    col = np.arange(n)[None, :]
    total = np.zeros((m, n))
    count = np.zeros((m, n))
    if n >= 3:
        d_ok = (col[:, 1:-1] + 1) < n_row[:, None]  # t + 1 exists
        total[:, 1:-1] += np.where(d_ok, pair_left[:, 2:] - pair_right[:, 1:-1], 0.0)
        count[:, 1:-1] += d_ok
        e_ok = col[:, 2:] < n_row[:, None]  # t exists (t >= 2: t - 2 exists)
        total[:, 2:] += np.where(e_ok, pair_right[:, 1:-1] - pair_left[:, 2:], 0.0)
        count[:, 2:] += e_ok
    return total / np.maximum(count, 1.0)


def standardise(scores: list[np.ndarray], sequences: Sequence[bytes]) -> list[np.ndarray]:
    """Zero mean, unit variance over the first bytes of all characters of all sequences."""
    firsts = [(np.frombuffer(s, dtype=np.uint8) & 0xC0) != 0x80 for s in sequences]
    values = np.concatenate([x[f] for x, f in zip(scores, firsts, strict=True)] or [np.zeros(0)])
    if values.size == 0:
        return scores
    mean, std = float(values.mean()), float(values.std())
    std = std if std > 1e-12 else 1.0
    return [((x - mean) / std).astype(np.float32) for x in scores]


def make_scorer(
    model: Any,
    signal: str,
    seq_len: int = 512,
    *,
    stride: int = DEFAULT_STRIDE,
    chain: bool = True,
    counts: CountStats | None = None,
    probe: ProbeSetup | None = None,
    progress: Progress | None = None,
) -> ByteScorer:
    """A per-byte scorer for ``segment_lines`` from a signal spec (see the module doc); ``model``
    may be None when only ``counts`` is asked for, which needs ``counts``; ``probe`` needs
    ``counts`` and ``probe`` (the counted text, the decoder and rules)."""
    terms = parse_signal_terms(signal)
    parts = [t.name for t in terms]
    if any(p in TEXT_SIGNALS for p in parts) and counts is None:
        raise BitbenchError(
            f"signal '{signal}' needs raw text to count: give it (bitlab segment --corpus TEXT)"
        )
    if PROBE_SIGNAL in parts and probe is None:
        raise BitbenchError(
            f"signal '{signal}' needs the counted text to train its probe on (bitlab segment "
            "--corpus TEXT)"
        )
    model_parts = [p for p in parts if p != COUNT_SIGNAL]
    if model_parts and model is None:
        raise BitbenchError(
            f"signal '{model_parts[0]}' needs a model: pass a run directory, or use --signal "
            "counts with --corpus TEXT"
        )
    needs_masks = any(p in MASK_SIGNALS for p in parts)
    if needs_masks and not isinstance(model, ScoresHiddenBytes):
        raise BitbenchError(
            f"signal '{signal}' needs a byte-level model (masked byte scores): "
            f"this {model.kind} model scores tokens; use --signal head"
        )

    def scorer(sequences: Sequence[bytes]) -> list[np.ndarray]:
        per_signal: dict[str, list[np.ndarray]] = {}
        if "head" in parts:
            per_signal["head"] = score_sequences(model, sequences, seq_len, progress=progress)
        if counts is not None and COUNT_SIGNAL in parts:
            per_signal[COUNT_SIGNAL] = count_scorer(counts)(sequences)
        if counts is not None and probe is not None and PROBE_SIGNAL in parts:
            per_signal[PROBE_SIGNAL] = probe_scores(
                model, counts, sequences, probe, seq_len, progress=progress
            )
        if needs_masks:
            wanted = [name for name in MASK_SIGNALS if name in parts]

            def rows(windows: np.ndarray, pad: np.ndarray) -> np.ndarray:
                found = mask_signals(model.hidden_byte_bits, windows, pad, stride, wanted, chain)
                return np.stack([found[name] for name in wanted], axis=-1)  # [M, W, C]

            stacked = score_in_windows(rows, sequences, seq_len, progress=progress)
            for c, name in enumerate(wanted):
                per_signal[name] = [
                    np.ascontiguousarray(x[:, c]) if x.ndim == 2 else x for x in stacked
                ]
        if len(parts) == 1:
            return per_signal[parts[0]]
        summed = [np.zeros(len(s), dtype=np.float32) for s in sequences]
        for term in terms:
            z = standardise(per_signal[term.name], sequences)
            for total, x in zip(summed, z, strict=True):
                total += np.float32(term.weight) * x
        return summed

    return scorer
