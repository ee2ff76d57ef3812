"""The official QA metrics, written from their definitions (scores in percent, as published).

SQuAD (v1.1 / v2.0 evaluation): an answer is normalised by lower-casing, removing ASCII
punctuation, removing the articles a / an / the as whole words, and collapsing whitespace.
EM = 1 when the normalised prediction equals a normalised gold answer; F1 = the harmonic mean of
precision and recall of the bag of normalised whitespace tokens shared with a gold answer (when
either side has no tokens, F1 = 1 if both have none, else 0). Both are the maximum over the gold
answers. An unanswerable question (SQuAD 2.0) has the one gold answer "" (so only the empty
prediction scores). HasAns / NoAns are the same averages over the answerable / unanswerable
questions.

CMRC 2018: text is lower-cased and cut into units: every CJK ideograph is a unit of its own,
every maximal run of other non-space, non-punctuation characters (Latin words, numbers) is a
unit; punctuation (Unicode categories P* and S*, which include the official list of Chinese
and ASCII marks) and whitespace separate units and are dropped. EM = 1 when the unit sequences
of prediction and a gold answer are equal; F1 = the harmonic mean of precision and recall of
the longest common *contiguous* run of units (longest common substring) between them; both the
maximum over the gold answers. (The official script splits the non-CJK runs with NLTK's word
tokenizer and keeps inner spaces for EM; for Chinese answers the two agree.)
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bitbench.errors import BitbenchError

METRICS = ("squad", "cmrc")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)
CJK_SHARE = 0.3  # contexts with at least this share of CJK ideographs are scored as CMRC


def squad_normalize(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_tokens(text: str) -> list[str]:
    return squad_normalize(text).split()


def _best(pred: str, golds: Sequence[str], one: Callable[[str, str], float]) -> float:
    if not golds:
        raise BitbenchError("a question without gold answers cannot be scored")
    return max(one(pred, gold) for gold in golds)


def _squad_em_one(pred: str, gold: str) -> float:
    return float(squad_normalize(pred) == squad_normalize(gold))


def _overlap_f1(pred: Sequence[str], gold: Sequence[str], same: int) -> float:
    """F1 of a prediction against one gold answer, ``same`` of their units in common (both
    empty: 1, one empty: 0, as both official scripts count it)."""
    if not pred or not gold:
        return float(len(pred) == len(gold))
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def _squad_f1_one(pred: str, gold: str) -> float:
    p, g = squad_tokens(pred), squad_tokens(gold)
    return _overlap_f1(p, g, sum((Counter(p) & Counter(g)).values()))


def squad_em(pred: str, golds: Sequence[str]) -> float:
    return _best(pred, golds, _squad_em_one)


def squad_f1(pred: str, golds: Sequence[str]) -> float:
    return _best(pred, golds, _squad_f1_one)


def is_cjk(ch: str) -> bool:
    """CJK Unified Ideographs (with extension A, the compatibility block, and the
    supplementary-plane extensions)."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3FFFF
    )


def is_punct(ch: str) -> bool:
    return ch in _PUNCT or unicodedata.category(ch)[0] in "PS"


def cmrc_unit_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) character spans of the CMRC units of ``text`` (see the module doc)."""
    spans: list[tuple[int, int]] = []
    run = -1  # start of the current non-CJK run
    for i, ch in enumerate(text):
        if is_cjk(ch) or ch.isspace() or is_punct(ch):
            if run >= 0:
                spans.append((run, i))
                run = -1
            if is_cjk(ch):
                spans.append((i, i + 1))
        elif run < 0:
            run = i
    if run >= 0:
        spans.append((run, len(text)))
    return spans


def cmrc_units(text: str) -> list[str]:
    low = text.lower()
    return [low[a:b] for a, b in cmrc_unit_spans(low)]


def longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common contiguous run of ``a`` and ``b`` (dynamic programming)."""
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def _cmrc_em_one(pred: str, gold: str) -> float:
    return float(cmrc_units(pred) == cmrc_units(gold))


def _cmrc_f1_one(pred: str, gold: str) -> float:
    p, g = cmrc_units(pred), cmrc_units(gold)
    return _overlap_f1(p, g, longest_common_run(p, g) if p and g else 0)


def cmrc_em(pred: str, golds: Sequence[str]) -> float:
    return _best(pred, golds, _cmrc_em_one)


def cmrc_f1(pred: str, golds: Sequence[str]) -> float:
    return _best(pred, golds, _cmrc_f1_one)


SCORERS: dict[str, tuple[Callable[[str, Sequence[str]], float], ...]] = {
    "squad": (squad_em, squad_f1),
    "cmrc": (cmrc_em, cmrc_f1),
}


def metric_for(contexts: Sequence[str]) -> str:
    """ "cmrc" when CJK ideographs are at least CJK_SHARE of the non-space characters of the
    contexts, else "squad"."""
    total = cjk = 0
    for context in contexts:
        for ch in context:
            if not ch.isspace():
                total += 1
                cjk += is_cjk(ch)
    return "cmrc" if total and cjk / total >= CJK_SHARE else "squad"


def score_predictions(
    predictions: Mapping[str, str],
    golds: Mapping[str, Sequence[str]],
    impossible: Mapping[str, bool],
    metric: str,
) -> dict[str, Any]:
    """EM and F1 (percent) over every question of ``golds`` (a question without a prediction
    scores 0), plus ``has_ans_*`` and, when unanswerable questions are present, ``no_ans_*``.
    ``golds``: question id -> gold texts ([""] for unanswerable questions)."""
    if metric not in SCORERS:
        raise BitbenchError(f"metric {metric!r} is unknown: use one of {', '.join(METRICS)}")
    em_of, f1_of = SCORERS[metric]
    rows: dict[str, tuple[float, float]] = {}
    for qid, gold in golds.items():
        pred = predictions.get(qid)
        rows[qid] = (0.0, 0.0) if pred is None else (em_of(pred, gold), f1_of(pred, gold))

    def mean(ids: list[str]) -> dict[str, Any]:
        n = len(ids)
        return {
            "exact": 100.0 * sum(rows[i][0] for i in ids) / n if n else None,
            "f1": 100.0 * sum(rows[i][1] for i in ids) / n if n else None,
            "n": n,
        }

    has = [q for q in golds if not impossible.get(q, False)]
    no = [q for q in golds if impossible.get(q, False)]
    result = {"metric": metric, **mean(list(golds))}
    result.update({f"has_ans_{k}": v for k, v in mean(has).items()})
    if no:
        result.update({f"no_ans_{k}": v for k, v in mean(no).items()})
    result["per_question"] = {q: {"em": e, "f1": f} for q, (e, f) in rows.items()}
    return result
