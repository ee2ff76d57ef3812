"""The train/test split of QA files, by article, deterministic, and the flat examples of each side.

Rule: the articles of the *last* file given are ordered by a hash of (seed, title, first
context) and the first ``round(test_fraction * n)`` of them are the test articles; every other
article of that file and every article of the other files are training articles. So SQuAD's
one file gives 12 training and 4 test articles at 0.25, and CMRC's ``trial.json dev.json``
trains on the trial set plus three quarters of dev and tests on the rest of dev. An article
is never on both sides (the split is over whole articles; ``check_disjoint`` also refuses an
article whose context appears on both sides, e.g. the same file given twice).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bitbench.errors import BitbenchError
from bitbench.qa.data import Article, GoldAnswer, GoldAnswers, QAFile


@dataclass(frozen=True)
class QAExample(GoldAnswers):
    """One question with its context, flattened out of its article."""

    qid: str
    question: str
    context: str
    answers: tuple[GoldAnswer, ...]
    impossible: bool
    article: str  # Article.key


@dataclass(frozen=True)
class QASplit:
    train: tuple[Article, ...]
    test: tuple[Article, ...]
    test_fraction: float
    seed: int
    test_file: str

    def describe(self) -> dict[str, Any]:
        """What the report and qa.json say about the split."""
        return {
            "rule": (
                f"by article: {len(self.test)} of the "
                f"{len(self.test) + _count(self.train, self.test_file)} articles of "
                f"{self.test_file} (hash order of seed {self.seed}, title and first context; "
                f"fraction {self.test_fraction:g}) test, every other article trains"
            ),
            "train_articles": len(self.train),
            "test_articles": len(self.test),
            "train_questions": sum(a.num_questions for a in self.train),
            "test_questions": sum(a.num_questions for a in self.test),
            "test_titles": [a.title or a.key for a in self.test],
            "test_keys": [a.key for a in self.test],
        }


def _count(articles: Sequence[Article], source: str) -> int:
    return sum(a.source == source for a in articles)


def _order_key(article: Article, seed: int) -> str:
    first = article.paragraphs[0].context if article.paragraphs else ""
    text = f"{seed}\x00{article.title}\x00{first}"
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def split_by_article(
    files: Sequence[QAFile], *, test_fraction: float = 0.25, seed: int = 0
) -> QASplit:
    """The split of the module doc."""
    if not files:
        raise BitbenchError("no QA files given: pass --data FILE.json (one or more)")
    if not 0 < test_fraction <= 1:
        raise BitbenchError(f"--test-fraction is {test_fraction}: use a share in (0, 1]")
    last = files[-1]
    candidates = sorted(last.articles, key=lambda a: _order_key(a, seed))
    n_test = max(1, round(test_fraction * len(candidates)))
    test = candidates[:n_test]
    chosen = {id(a) for a in test}  # by object: the same file given twice stays two files
    train = [a for f in files for a in f.articles if id(a) not in chosen]
    if not any(a.num_questions for a in train):
        raise BitbenchError(
            f"the split leaves no training questions ({len(last.articles)} article(s) in "
            f"'{last.path}', test fraction {test_fraction:g}): lower --test-fraction or add a "
            "training file before it with --data"
        )
    split = QASplit(tuple(train), tuple(test), test_fraction, seed, Path(last.path).name)
    check_disjoint(split)
    return split


def check_disjoint(split: QASplit) -> None:
    """No context on both sides (articles are split whole; this also refuses the same article
    in two files)."""
    train_contexts = {p.context for a in split.train for p in a.paragraphs}
    for article in split.test:
        if any(p.context in train_contexts for p in article.paragraphs):
            raise BitbenchError(
                f"article {article.title or article.key!r} is both a training and a test "
                "article (the same file or context given twice?): pass each file once"
            )


def examples(articles: Sequence[Article]) -> list[QAExample]:
    """Every question of ``articles``, in file order."""
    return [
        QAExample(q.qid, q.question, p.context, q.answers, q.impossible, a.key)
        for a in articles
        for p in a.paragraphs
        for q in p.questions
    ]


def subsample(items: Sequence[QAExample], limit: int | None, seed: int) -> list[QAExample]:
    """At most ``limit`` of ``items`` (a hash order of seed and question id), kept in their
    original order; all of them when ``limit`` is None."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise BitbenchError(f"a question limit of {limit}: use 1 or more")

    def key(pair: tuple[int, QAExample]) -> str:
        text = f"{seed}\x00{pair[1].article}\x00{pair[1].qid}\x00{pair[0]}"
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()

    chosen = sorted(sorted(enumerate(items), key=key)[:limit], key=lambda pair: pair[0])
    return [item for _, item in chosen]
