"""The metrics of DESIGN.md "Metrics", as pure NumPy functions (no model, no torch).

- masked accuracy: the share of positions hidden by a level's mask whose prediction is right;
- bits per byte: the summed ``-log2 p(true unit)`` over masked units divided by the bytes those
  units cover (a byte model's units are bytes, a BPE model's units are tokens);
- boundary precision / recall / F1: predicted unit starts against gold word starts.

Boundary convention (also in the README): a position is *evaluated* when it is a non-whitespace
byte that is not the first byte of its sequence (window, line or document: that byte is a start
trivially, for gold and prediction alike). Gold starts come either from whitespace (the first byte
of each maximal run of non-whitespace characters) or from a segmented file (words separated by
spaces; the spaces are removed from the model's input and the first byte of each word is gold).
Continuation bytes of multi-byte characters are evaluated too: a predicted start inside a
character is a false positive, never a free pass. Precision with no predicted starts, or recall
with no gold starts, is 0.0 (and so is F1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bitbench.errors import BitbenchError

LN2 = math.log(2.0)


def _same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise BitbenchError(
            f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}: pass arrays of one shape"
        )


# --- masked accuracy ------------------------------------------------------------------------


def accuracy_counts(
    predictions: np.ndarray, targets: np.ndarray, mask: np.ndarray
) -> tuple[int, int]:
    """(number right, number evaluated) over the positions where ``mask`` is True."""
    predictions = np.asarray(predictions)
    targets = np.asarray(targets)
    mask = np.asarray(mask, dtype=bool)
    _same_shape("predictions", predictions, "targets", targets)
    _same_shape("predictions", predictions, "mask", mask)
    right = int(np.count_nonzero((predictions == targets) & mask))
    return right, int(np.count_nonzero(mask))


def masked_accuracy(predictions: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> float:
    """Accuracy at the positions hidden by a mask; NaN when the mask hides nothing."""
    right, total = accuracy_counts(predictions, targets, mask)
    return right / total if total else float("nan")


# --- bits per byte --------------------------------------------------------------------------


def neg_log2_probs(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``-log2 softmax(logits)[target]`` per position. logits [..., V], targets [...] -> float64 [...]."""
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if logits.shape[:-1] != targets.shape:
        raise BitbenchError(
            f"logits have shape {logits.shape} but targets {targets.shape}: logits need one more "
            "(class) axis than targets"
        )
    peak = logits.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(logits - peak).sum(axis=-1)) + peak[..., 0]  # [...]
    true_logit = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]  # [...]
    return (log_norm - true_logit) / LN2


def bits_per_byte(unit_bits: np.ndarray | float, unit_bytes: np.ndarray | int) -> float:
    """Summed bits (``-log2 p``) over masked units divided by the bytes those units cover."""
    total_bits = float(np.sum(unit_bits))
    total_bytes = int(np.sum(unit_bytes))
    if total_bytes <= 0:
        raise BitbenchError(
            "bits per byte over zero covered bytes: evaluate on more windows or a higher mask rate"
        )
    return total_bits / total_bytes


def bits_per_byte_from_logprobs(unit_logprobs: np.ndarray, unit_bytes: np.ndarray) -> float:
    """bpb from natural-log probabilities of the true units and the bytes each unit covers."""
    return bits_per_byte(-np.asarray(unit_logprobs, dtype=np.float64) / LN2, unit_bytes)


# --- boundaries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BoundaryMatch:
    """Counts and scores of predicted starts (or words) against gold ones."""

    true_pos: int
    false_pos: int
    false_neg: int

    @property
    def precision(self) -> float:
        predicted = self.true_pos + self.false_pos
        return self.true_pos / predicted if predicted else 0.0

    @property
    def recall(self) -> float:
        gold = self.true_pos + self.false_neg
        return self.true_pos / gold if gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: BoundaryMatch) -> BoundaryMatch:
        return BoundaryMatch(
            self.true_pos + other.true_pos,
            self.false_pos + other.false_pos,
            self.false_neg + other.false_neg,
        )

    def as_dict(self, prefix: str = "boundary") -> dict[str, float]:
        return {
            f"{prefix}_precision": self.precision,
            f"{prefix}_recall": self.recall,
            f"{prefix}_f1": self.f1,
        }


def match_boundaries(
    predicted: np.ndarray, gold: np.ndarray, evaluate: np.ndarray
) -> BoundaryMatch:
    """Predicted starts vs gold starts, counted at the positions where ``evaluate`` is True."""
    predicted = np.asarray(predicted, dtype=bool)
    gold = np.asarray(gold, dtype=bool)
    evaluate = np.asarray(evaluate, dtype=bool)
    _same_shape("predicted", predicted, "gold", gold)
    _same_shape("predicted", predicted, "evaluate", evaluate)
    return BoundaryMatch(
        true_pos=int(np.count_nonzero(predicted & gold & evaluate)),
        false_pos=int(np.count_nonzero(predicted & ~gold & evaluate)),
        false_neg=int(np.count_nonzero(~predicted & gold & evaluate)),
    )


def sequence_start_mask(shape: tuple[int, ...], doc_starts: np.ndarray | None = None) -> np.ndarray:
    """True at position 0 of every row, and wherever a document starts (``doc_starts``)."""
    starts = np.zeros(shape, dtype=bool)
    starts[..., 0] = True
    if doc_starts is not None:
        doc_starts = np.asarray(doc_starts, dtype=bool)
        _same_shape("doc_starts", doc_starts, "data", starts)
        starts |= doc_starts
    return starts


def whitespace_gold(
    is_space: np.ndarray, sequence_starts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Gold word starts and evaluated positions from a per-byte whitespace flag.

    ``is_space`` bool [..., L] (True for every byte of a whitespace character). A gold start is
    the first byte of a maximal non-whitespace run; evaluated positions are non-whitespace bytes
    that are not sequence starts (default: position 0 of each row).
    """
    is_space = np.asarray(is_space, dtype=bool)
    if sequence_starts is None:
        sequence_starts = sequence_start_mask(is_space.shape)
    sequence_starts = np.asarray(sequence_starts, dtype=bool)
    _same_shape("is_space", is_space, "sequence_starts", sequence_starts)
    prev_space = np.zeros_like(is_space)
    prev_space[..., 1:] = is_space[..., :-1]
    gold = ~is_space & (prev_space | sequence_starts)
    evaluate = ~is_space & ~sequence_starts
    return gold, evaluate


def ascii_space_mask(data: np.ndarray) -> np.ndarray:
    """True at ASCII whitespace bytes (space, \\t, \\n, \\v, \\f, \\r)."""
    data = np.asarray(data, dtype=np.uint8)
    return (data == 0x20) | ((data >= 0x09) & (data <= 0x0D))


def gold_starts(words: Sequence[str]) -> tuple[bytes, np.ndarray]:
    """Gold words of one line -> (their UTF-8 bytes joined, bool [n] True at each word's first
    byte)."""
    data = "".join(words).encode("utf-8")
    gold = np.zeros(len(data), dtype=bool)
    at = 0
    for word in words:
        gold[at] = True
        at += len(word.encode("utf-8"))
    return data, gold


def parse_segmented_line(line: str) -> tuple[bytes, np.ndarray]:
    """A gold-segmented line (words separated by whitespace) -> (UTF-8 bytes without the spaces,
    bool [n] True at the first byte of each word)."""
    return gold_starts(line.split())


def starts_from_scores(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Predicted unit starts: boundary score strictly above the threshold."""
    return np.asarray(scores) > threshold


def threshold_for_mean_length(
    scores: np.ndarray, target_length: float, valid: np.ndarray | None = None
) -> float:
    """The threshold at which the mean unit length over ``valid`` positions is ``target_length``
    bytes (BLT-style: units = positions / starts, so the top ``count / target_length`` scores win).
    """
    if target_length < 1.0:
        raise BitbenchError(f"target unit length {target_length} is below one byte: pass >= 1")
    scores = np.asarray(scores, dtype=np.float64)
    values = scores[np.asarray(valid, dtype=bool)] if valid is not None else scores.ravel()
    if values.size == 0:
        return 0.0
    wanted = max(1, round(values.size / target_length))
    if wanted >= values.size:
        return float(values.min()) - 1.0
    ordered = np.sort(values)[::-1]
    # Midway between the last kept and the first dropped score (ties keep fewer).
    return float((ordered[wanted - 1] + ordered[wanted]) / 2.0)
