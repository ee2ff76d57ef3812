"""One QA call's data, prepared once and shared by every model: the files, the split, the
training and test questions, the metric, the answer-length limits and the floors' scores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bitbench.errors import BitbenchError
from bitbench.qa.data import QAFile, load_squad
from bitbench.qa.floors import answer_units, floor_answers
from bitbench.qa.metrics import METRICS, metric_for, score_predictions
from bitbench.qa.split import QAExample, QASplit, examples, split_by_article, subsample
from bitbench.qa.windows import ContextBytes

LENGTH_BINS = ((1, 4), (5, 8), (9, 16), (17, 32), (33, 64), (65, None))  # answer bytes


@dataclass(frozen=True)
class QAData:
    files: tuple[QAFile, ...]
    split: QASplit
    train: tuple[QAExample, ...]
    test: tuple[QAExample, ...]
    metric: str
    no_answer: bool
    max_answer_bytes: int
    floor_units: int
    left_out: dict[str, int]  # questions not asked, by reason

    def contexts(self, items: Sequence[QAExample]) -> list[ContextBytes]:
        cache: dict[str, ContextBytes] = {}
        return [cache.setdefault(ex.context, ContextBytes.of(ex.context)) for ex in items]

    def answer_bytes(
        self, items: Sequence[QAExample], contexts: Sequence[ContextBytes]
    ) -> list[tuple[int, int] | None]:
        """Per example, the located answer's context bytes (None: unanswerable)."""
        out: list[tuple[int, int] | None] = []
        for ex, ctx in zip(items, contexts, strict=True):
            gold = ex.located
            out.append(
                None if ex.impossible or gold is None else ctx.byte_span(gold.start, gold.end)
            )
        return out

    def golds(self, items: Sequence[QAExample]) -> dict[str, list[str]]:
        return {ex.qid: ex.gold_texts for ex in items}

    def impossible(self, items: Sequence[QAExample]) -> dict[str, bool]:
        return {ex.qid: ex.impossible for ex in items}

    def score(self, predictions: dict[str, str], items: Sequence[QAExample]) -> dict[str, Any]:
        """EM / F1 of ``predictions`` on ``items`` and F1 by answer length in bytes."""
        result = score_predictions(
            predictions, self.golds(items), self.impossible(items), self.metric
        )
        result["by_length"] = by_length(items, result["per_question"])
        return result

    def describe(self) -> dict[str, Any]:
        return {
            "files": [
                {"path": f.path, "version": f.version, "articles": len(f.articles),
                 "questions": f.num_questions, **f.notes.to_dict()}
                for f in self.files
            ],
            "metric": self.metric,
            "split": self.split.describe(),
            "train_questions_used": len(self.train),
            "test_questions_used": len(self.test),
            "test_unanswerable": sum(ex.impossible for ex in self.test),
            "left_out": self.left_out,
            "no_answer": self.no_answer,
            "max_answer_bytes": self.max_answer_bytes,
            "floor_answer_units": self.floor_units,
        }  # fmt: skip


def by_length(items: Sequence[QAExample], per_question: dict[str, dict[str, float]]) -> list[dict]:
    """Mean F1 (percent) per bin of the first gold answer's length in UTF-8 bytes."""
    rows = []
    for lo, hi in LENGTH_BINS:
        f1s = [
            per_question[ex.qid]["f1"]
            for ex in items
            if not ex.impossible
            and ex.answers
            and lo <= len(ex.answers[0].text.encode("utf-8")) <= (hi or math.inf)
        ]
        label = f"{lo}-{hi}" if hi else f"{lo}+"
        rows.append(
            {"bytes": label, "n": len(f1s), "f1": 100 * float(np.mean(f1s)) if f1s else None}
        )
    return rows


def prepare_data(
    paths: Sequence[str],
    *,
    test_fraction: float,
    seed: int,
    max_questions: int | None,
    train_questions: int | None,
    no_answer: bool,
    metric: str = "auto",
    max_answer_bytes: int | None = None,
) -> QAData:
    """Read, split and cap the questions (``--max-questions`` caps the test and the training
    questions; ``train_questions`` caps the training ones)."""
    files = tuple(load_squad(p) for p in paths)
    split = split_by_article(files, test_fraction=test_fraction, seed=seed)
    train_all, test_all = examples(split.train), examples(split.test)
    has_impossible = any(ex.impossible for ex in train_all + test_all)
    if no_answer and not has_impossible:
        raise BitbenchError(
            "--no-answer asks for unanswerable questions but the files have none "
            "(is_impossible): leave it out"
        )
    left_out: dict[str, int] = {}
    if not no_answer:
        left_out["unanswerable (use --no-answer to ask them)"] = sum(
            ex.impossible for ex in train_all + test_all
        )
        train_all = [ex for ex in train_all if not ex.impossible]
        test_all = [ex for ex in test_all if not ex.impossible]
    cap = min(x for x in (max_questions, train_questions, len(train_all)) if x is not None)
    train = subsample(train_all, cap, seed)
    test = subsample(test_all, max_questions, seed)
    left_out["training questions over the cap"] = len(train_all) - len(train)
    left_out["test questions over --max-questions"] = len(test_all) - len(test)
    if metric == "auto":
        metric = metric_for([ex.context for ex in test])
    elif metric not in METRICS:
        raise BitbenchError(f"--metric {metric!r} is unknown: use auto, {', '.join(METRICS)}")
    if max_answer_bytes is None:
        lengths = [len(ex.located.text.encode("utf-8")) for ex in train if ex.located is not None]
        max_answer_bytes = max(16, math.ceil(float(np.percentile(lengths, 95)))) if lengths else 64
    return QAData(
        files=files, split=split, train=tuple(train), test=tuple(test), metric=metric,
        no_answer=no_answer, max_answer_bytes=max_answer_bytes,
        floor_units=answer_units(train, metric), left_out=left_out,
    )  # fmt: skip


def floor_scores(data: QAData) -> dict[str, dict[str, Any]]:
    """The floors' scores on the test questions (bitbench.qa.floors)."""
    answers = floor_answers(data.test, data.floor_units, data.metric, no_answer=data.no_answer)
    return {name: data.score(pred, data.test) for name, pred in answers.items()}
