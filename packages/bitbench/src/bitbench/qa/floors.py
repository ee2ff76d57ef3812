"""Heuristic floors: answers found by string matching alone, scored beside every model number.

Units: for SQuAD-scored text the whitespace-separated words (compared after SQuAD's answer
normalisation; a word that normalises to nothing never matches), for CMRC-scored text the CMRC
units (each CJK character, each run of other non-punctuation characters).

- ``window``: the sliding-window baseline of the SQuAD paper (Rajpurkar et al. 2016, after
  Richardson et al. 2013), with every run of ``n`` consecutive units as a candidate (n = the
  median gold answer length in units over the training questions) instead of parse
  constituents. A candidate scores the summed inverse-count weight log(1 + 1 / count in the
  context) of the distinct question units found in the ``span`` units on either side of it,
  less the same weight of the question units inside it (answers rarely repeat the question);
  the best candidate wins, the earliest on ties.
- ``first``: the context's first ``n`` units.

Both always answer (they never predict "no answer"). With unanswerable questions asked
(``--no-answer``) a third floor, ``empty``, answers none of them: its overall score is the share
of unanswerable questions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from bitbench.qa.metrics import cmrc_unit_spans, squad_normalize
from bitbench.qa.split import QAExample

WINDOW_UNITS = {"squad": 8, "cmrc": 16}  # units on each side of a candidate


def unit_spans(text: str, metric: str) -> list[tuple[int, int, str]]:
    """(start, end, key) character spans of the units of ``text`` (key "": never matches)."""
    if metric == "cmrc":
        return [(a, b, text[a:b].lower()) for a, b in cmrc_unit_spans(text)]
    out, start = [], -1
    for i, ch in enumerate(text + " "):
        if ch.isspace():
            if start >= 0:
                out.append((start, i, squad_normalize(text[start:i])))
                start = -1
        elif start < 0:
            start = i
    return out


def answer_units(examples: Sequence[QAExample], metric: str) -> int:
    """The median length in units of the located gold answers (at least 1)."""
    lengths = [
        len(unit_spans(ex.located.text, metric)) for ex in examples if ex.located is not None
    ]
    return max(1, int(np.median(lengths))) if lengths else 1


def window_answer(question: str, context: str, n: int, metric: str) -> str:
    units = unit_spans(context, metric)
    if not units:
        return ""
    keys = [k for _, _, k in units]
    counts = Counter(keys)
    asked = {k for _, _, k in unit_spans(question, metric) if k}
    weight = {k: math.log(1 + 1 / counts[k]) for k in asked if k in counts}
    span = WINDOW_UNITS[metric]
    n = min(n, len(units))
    best, best_at = -math.inf, 0
    for i in range(len(units) - n + 1):
        inside = {k for k in keys[i : i + n] if k in weight}
        around = {k for k in keys[max(0, i - span) : i] + keys[i + n : i + n + span] if k in weight}
        # fsum: exact, so equal weights tie exactly whatever order the sets iterate in (string
        # hashing differs per process) and the earliest candidate wins in every process
        score = math.fsum(weight[k] for k in around) - math.fsum(weight[k] for k in inside)
        if score > best:
            best, best_at = score, i
    return context[units[best_at][0] : units[best_at + n - 1][1]]


def first_answer(context: str, n: int, metric: str) -> str:
    units = unit_spans(context, metric)
    if not units:
        return ""
    n = min(n, len(units))
    return context[units[0][0] : units[n - 1][1]]


def floor_answers(
    examples: Sequence[QAExample], n: int, metric: str, *, no_answer: bool = False
) -> dict[str, dict[str, str]]:
    """{"window": {qid: answer}, "first": {qid: answer}} for the test examples, and "empty"
    with ``no_answer``."""
    out = {
        "window": {ex.qid: window_answer(ex.question, ex.context, n, metric) for ex in examples},
        "first": {ex.qid: first_answer(ex.context, n, metric) for ex in examples},
    }
    if no_answer:
        out["empty"] = {ex.qid: "" for ex in examples}
    return out
