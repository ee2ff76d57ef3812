"""Boundary and consistency evaluation of a model on corpus windows or on gold-segmented lines.

Both gold sources end up as the same thing: rows of bytes (``windows`` uint8 [M, L] with ``pad``),
gold word starts and the positions to evaluate, plus whitespace flags. The model's boundary
scores are cut at one threshold (given, or chosen so the mean unit length equals the run's
target) and compared with ``metrics.match_boundaries``. Gold-segmented lines are instead cut into
words line by line by ``segment.segment_lines`` (rules, signal and decoder exactly as ``bitlab
segment`` uses them) and get SIGHAN word precision/recall/F1 and, with the training word list,
OOV rate and OOV/IV recall (``sighan``). The consistency score pools the model's byte states over
gold word occurrences and feeds ``consistency.consistency_auc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bitcodec.facts import CharClass, char_classes
from bittrain.engine.contracts import HasByteStates, HasUntrained
from bittrain.engine.windows import pack_windows

from bitbench.consistency import consistency_auc, pool_units
from bitbench.errors import BitbenchError
from bitbench.metrics import (
    gold_starts,
    match_boundaries,
    sequence_start_mask,
    threshold_for_mean_length,
    whitespace_gold,
)
from bitbench.seg_decode import DecodeOptions
from bitbench.seg_rules import SegmentRules
from bitbench.segment import ByteScorer, Segmentation, segment_lines
from bitbench.sighan import score_lines, split_words


@dataclass(frozen=True)
class GoldRows:
    """Rows to evaluate with their gold. ``cut_left``/``cut_right``: the row's first/last word may
    be cut off by the row edge (a window in running text, or a long line split in pieces)."""

    windows: np.ndarray  # uint8 [M, L]
    pad: np.ndarray  # bool [M, L]
    doc_starts: np.ndarray | None  # bool [M, L]
    gold: np.ndarray  # bool [M, L] gold word starts
    evaluate: np.ndarray  # bool [M, L] positions counted
    is_space: np.ndarray  # bool [M, L]
    cut_left: np.ndarray  # bool [M]
    cut_right: np.ndarray  # bool [M]
    line_of_row: np.ndarray | None = None  # int [M] for segmented lines (word F per line)
    source: str = "whitespace"


def space_flags(windows: np.ndarray) -> np.ndarray:
    """True at every byte of a whitespace character (bitcodec's character classes)."""
    return np.asarray(char_classes(np.ascontiguousarray(windows))) == int(CharClass.SPACE)


def whitespace_rows(windows: np.ndarray, doc_starts: np.ndarray | None) -> GoldRows:
    """Corpus windows with whitespace gold (starts of maximal non-whitespace runs)."""
    is_space = space_flags(windows)
    seq_starts = sequence_start_mask(windows.shape, doc_starts)
    gold, evaluate = whitespace_gold(is_space, seq_starts)
    m = windows.shape[0]
    return GoldRows(
        windows=windows,
        pad=np.zeros(windows.shape, dtype=bool),
        doc_starts=doc_starts,
        gold=gold,
        evaluate=evaluate,
        is_space=is_space,
        cut_left=np.ones(m, dtype=bool),
        cut_right=np.ones(m, dtype=bool),
    )


def read_gold_words(path: str | Path, max_lines: int | None = None) -> list[list[str]]:
    """The words of every non-empty line of a gold-segmented file (split as the official SIGHAN
    script splits them)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BitbenchError(
            f"gold segmentation file '{path}' does not exist: check --gold-seg"
        ) from exc
    except UnicodeDecodeError as exc:
        raise BitbenchError(
            f"gold segmentation file '{path}' is not UTF-8 (byte {exc.start}): convert it to UTF-8"
        ) from exc
    lines = [words for words in (split_words(line) for line in text.split("\n")) if words]
    if not lines:
        raise BitbenchError(
            f"gold segmentation file '{path}' has no words: give one sentence per line, words "
            "separated by spaces"
        )
    return lines[:max_lines] if max_lines else lines


def segmented_rows(lines: Sequence[tuple[bytes, np.ndarray]], seq_len: int) -> GoldRows:
    """Gold-segmented lines packed into rows of ``seq_len`` bytes (long lines in pieces)."""
    data = [d for d, _ in lines]
    windows, pad, pieces = pack_windows(data, seq_len)
    gold = np.zeros(windows.shape, dtype=bool)
    cut_left = np.zeros(len(pieces), dtype=bool)
    cut_right = np.zeros(len(pieces), dtype=bool)
    line_of_row = np.zeros(len(pieces), dtype=np.int64)
    for row, (i, start, length) in enumerate(pieces):
        gold[row, :length] = lines[i][1][start : start + length]
        cut_left[row] = start > 0
        cut_right[row] = start + length < len(data[i])
        line_of_row[row] = i
    evaluate = ~pad.copy()
    evaluate[:, 0] = False  # first byte of each line / piece: trivially a start
    return GoldRows(
        windows=windows,
        pad=pad,
        doc_starts=None,
        gold=gold,
        evaluate=evaluate,
        is_space=np.zeros(windows.shape, dtype=bool),
        cut_left=cut_left,
        cut_right=cut_right,
        line_of_row=line_of_row,
        source="segmented",
    )


def evaluate_boundaries(
    rows: GoldRows, scores: np.ndarray, *, threshold: float | None, target_unit_bytes: float
) -> dict[str, Any]:
    """boundary_precision/recall/f1 (+ word_* for segmented lines) and the threshold used."""
    if threshold is None:
        threshold = threshold_for_mean_length(scores, target_unit_bytes, valid=~rows.pad)
    predicted = (scores > threshold) & ~rows.pad
    result: dict[str, Any] = match_boundaries(predicted, rows.gold, rows.evaluate).as_dict(
        "boundary"
    )
    valid = ~rows.pad
    result["boundary_threshold"] = float(threshold)
    starts = predicted.copy()
    starts[:, 0] |= valid[:, 0]  # every row begins a unit
    result["predicted_unit_bytes"] = float(valid.sum() / max(1, int(starts.sum())))
    result["gold_word_bytes"] = float((valid & ~rows.is_space).sum() / max(1, int(rows.gold.sum())))
    return result


@dataclass(frozen=True)
class SegmentedResult:
    """What ``evaluate_segmented`` measured, and the segmentation itself (plots, files)."""

    metrics: dict[str, Any]
    segmentation: Segmentation
    gold: list[list[str]]


def evaluate_segmented(
    model: Any,
    gold: Sequence[Sequence[str]],
    *,
    options: DecodeOptions | None = None,
    rules: SegmentRules | None = None,
    seq_len: int = 512,
    dictionary: frozenset[str] | None = None,
    scorer: ByteScorer | None = None,
) -> SegmentedResult:
    """Segment the gold lines' text (spaces removed) exactly as ``bitlab segment`` would and
    score it: boundary P/R/F1 over bytes (each line's first byte excluded), SIGHAN word P/R/F1,
    and OOV rate and OOV/IV recall when ``dictionary`` (the training word list) is given."""
    options = options or DecodeOptions()
    rules = rules or SegmentRules()
    texts = ["".join(words) for words in gold]
    seg = segment_lines(model, texts, options=options, rules=rules, seq_len=seq_len, scorer=scorer)
    predicted = np.concatenate([d.byte_starts() for d in seg.details])
    gold_flags = np.concatenate([gold_starts(words)[1] for words in gold])
    evaluate = np.ones(predicted.shape, dtype=bool)
    firsts = np.cumsum([0, *[len(t.encode("utf-8")) for t in texts[:-1]]])
    evaluate[firsts[firsts < evaluate.size]] = False  # a line's first byte starts a word trivially
    result: dict[str, Any] = match_boundaries(predicted, gold_flags, evaluate).as_dict("boundary")
    result.update(score_lines(gold, seg.lines, dictionary).as_dict())
    n_gold = sum(len(words) for words in gold)
    result["boundary_threshold"] = seg.threshold
    result["predicted_unit_bytes"] = seg.mean_unit_bytes
    result["gold_word_bytes"] = float(predicted.size / max(1, n_gold))
    result["segmenter"] = {
        "method": options.method,
        "max_word_atoms": options.max_word_atoms,
        "prior_weight": options.prior_weight,
        "prior_mean_atoms": options.prior_mean_atoms,
        "rules": rules.spec(),
        "target_unit_bytes": options.target_unit_bytes or float(model.target_unit_bytes),
    }
    return SegmentedResult(result, seg, [list(words) for words in gold])


def word_occurrences(rows: GoldRows) -> list[tuple[int, int, int]]:
    """Gold words (row, start, end) not touching a cut row edge, whitespace excluded."""
    out: list[tuple[int, int, int]] = []
    m = rows.windows.shape[0]
    for row in range(m):
        n = int((~rows.pad[row]).sum())
        starts = np.flatnonzero(rows.gold[row, :n]).tolist()
        space = rows.is_space[row, :n]
        for k, s in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else n
            spaces = np.flatnonzero(space[s:end])
            if spaces.size:
                end = s + int(spaces[0])
            if (s == 0 and rows.cut_left[row]) or (end == n and rows.cut_right[row]):
                continue
            if end > s:
                out.append((row, s, end))
    return out


def evaluate_consistency(
    model: Any,
    rows: GoldRows,
    *,
    max_occurrences: int = 2000,
    seed: int = 0,
    control: Any = None,
) -> dict[str, float | None]:
    """``consistency_auc`` over gold word occurrences (centred vectors), the uncentred
    ``consistency_auc_raw``, and ``consistency_auc_control``: the same for ``control`` (the same
    configuration untrained, ``untrained_like``). A value is None when the model exposes no
    per-byte states or the text has no repeated word. See bitbench.consistency for how to read
    them: only the margin above the control is consistency the bytes alone do not give."""
    out: dict[str, float | None] = dict.fromkeys(
        ("consistency_auc", "consistency_auc_raw", "consistency_auc_control")
    )
    occurrences = word_occurrences(rows)
    if not isinstance(model, HasByteStates) or not occurrences:
        return out
    labels = [rows.windows[row, s:e].tobytes() for row, s, e in occurrences]

    def auc(of: Any, centre: bool) -> float | None:
        vectors = _pooled_occurrences(of, rows, occurrences)
        try:
            return consistency_auc(
                vectors,
                labels,
                max_occurrences=max_occurrences,
                rng=np.random.default_rng(seed),
                centre=centre,
            )
        except BitbenchError:
            return None  # no repeated unit, or a single distinct unit: nothing to compare

    out["consistency_auc"] = auc(model, True)
    out["consistency_auc_raw"] = auc(model, False)
    if isinstance(control, HasByteStates):
        out["consistency_auc_control"] = auc(control, True)
    return out


def _pooled_occurrences(
    model: Any, rows: GoldRows, occurrences: list[tuple[int, int, int]]
) -> np.ndarray:
    """float64 [K, D]: each occurrence's mean byte state."""
    states = np.asarray(model.byte_states(rows.windows, pad=rows.pad, doc_starts=rows.doc_starts))
    vectors = np.zeros((len(occurrences), states.shape[-1]))
    by_row: dict[int, list[int]] = {}
    for idx, (row, _, _) in enumerate(occurrences):
        by_row.setdefault(row, []).append(idx)
    for row, idxs in by_row.items():
        spans = [(occurrences[i][1], occurrences[i][2]) for i in idxs]
        vectors[idxs] = pool_units(states[row], spans)
    return vectors


def untrained_like(model: Any) -> Any:
    """The same EvalModel with freshly initialised weights (seed 0): the consistency control
    (what identical bytes alone give), or None when the kind cannot be rebuilt."""
    return model.untrained() if isinstance(model, HasUntrained) else None


# --- samples for the boundary plot (plots.plot_boundary_view): one mark per character ---------


def _sentence(chars: list[str], scores, predicted, gold) -> dict[str, Any]:
    return {
        "chars": chars,
        "scores": np.asarray(scores, dtype=np.float64),
        "predicted": np.asarray(predicted, dtype=bool),
        "gold": np.asarray(gold, dtype=bool),
    }


def sentence_sample(
    result: SegmentedResult, max_sentences: int = 4, min_chars: int = 8, max_chars: int = 40
) -> dict[str, Any]:
    """The first few gold lines of ``min_chars``..``max_chars`` characters (else the first
    lines, cut), with per character: the score (of the atom it starts; NaN inside an atom),
    predicted and gold word starts."""
    picked = [
        i
        for i, d in enumerate(result.segmentation.details)
        if min_chars <= len(d.atoms.text) <= max_chars
    ][:max_sentences]
    if not picked:
        picked = list(range(min(max_sentences, len(result.gold))))
    sentences = []
    for i in picked:
        d = result.segmentation.details[i]
        text = d.atoms.text[:max_chars]
        n = len(text)
        scores = np.full(n, np.nan)
        predicted = np.zeros(n, dtype=bool)
        firsts = d.atoms.bounds[:-1]
        inside = firsts < n
        scores[firsts[inside]] = d.scores[inside]
        predicted[firsts[inside]] = (d.starts | d.atoms.forced)[inside] & ~d.atoms.dropped[inside]
        gold = np.zeros(n, dtype=bool)
        at = 0
        for word in result.gold[i]:
            if at < n:
                gold[at] = True
            at += len(word)
        sentences.append(_sentence(list(text), scores, predicted, gold))
    return {"sentences": sentences, "threshold": result.segmentation.threshold}


def window_sample(
    rows: GoldRows, scores: np.ndarray, threshold: float, max_bytes: int = 96
) -> dict[str, Any]:
    """The first row's first characters (whitespace gold), one mark per character: the score at
    the character's first byte, predicted (score above the threshold) and gold starts."""
    n = int((~rows.pad[0]).sum())
    data = rows.windows[0, :n].tobytes()
    firsts = np.flatnonzero((rows.windows[0, :n] & 0xC0) != 0x80)
    ends = np.append(firsts[1:], n)
    keep = ends <= max_bytes
    firsts, ends = firsts[keep], ends[keep]
    chars = [data[a:b].decode("utf-8", errors="replace") for a, b in zip(firsts, ends, strict=True)]
    s = np.asarray(scores[0, firsts], dtype=np.float64)
    return {
        "sentences": [_sentence(chars, s, s > threshold, rows.gold[0, firsts])],
        "threshold": threshold,
    }
