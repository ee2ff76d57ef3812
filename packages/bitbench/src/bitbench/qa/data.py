"""SQuAD-format question-answering files (SQuAD 2.0, CMRC 2018): read, checked, one error line.

The layout is ``{"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
"answers": [{"text", "answer_start"}], "is_impossible"?}]}]}]}``; ``answer_start`` is a
character offset into the context. What the real files contain besides that, and how it is
handled (counted in ``QAFile.notes``, never silently):

- ``answer_start`` -1 (CMRC 2018 dev: 193 gold answers whose text is not in the context): the
  gold text is kept for scoring, as the official CMRC script scores it, but has no location,
  so it is not used for training or for the cloze.
- ``answer_start`` counted in UTF-16 code units (CMRC 2018: 12 answers in contexts with a
  character outside the Basic Multilingual Plane, which such offsets count twice): converted
  to the character offset when the text is found there.
- a question none of whose gold answers has a location (and which is not an unanswerable
  SQuAD 2.0 question) is dropped and its id named in the notes (none in the CMRC 2018 files:
  each of their questions keeps at least one located answer).

Anything else that does not fit (not JSON, not this layout, an ``answer_start`` that matches its
text neither as a character nor as a UTF-16 offset, no questions at all) is one BitbenchError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bittrain.fileio import read_text

from bitbench.errors import BitbenchError

LAYOUT = (
    '{"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question", '
    '"answers": [{"text", "answer_start"}]}]}]}]}'
)
UNLOCATED = -1  # CMRC 2018's answer_start for a gold text not found in the context


@dataclass(frozen=True)
class GoldAnswer:
    text: str
    start: int | None  # character offset into the context; None: scored only, never located

    @property
    def end(self) -> int | None:
        return None if self.start is None else self.start + len(self.text)


class GoldAnswers:
    """What a question's gold answers give (for dataclasses with ``answers`` and ``impossible``)."""

    answers: tuple[GoldAnswer, ...]
    impossible: bool

    @property
    def located(self) -> GoldAnswer | None:
        """The first gold answer with a location (the training and cloze target)."""
        return next((a for a in self.answers if a.start is not None), None)

    @property
    def gold_texts(self) -> list[str]:
        """The texts a prediction is scored against ("" only, for an unanswerable question)."""
        return [""] if self.impossible else [a.text for a in self.answers]


@dataclass(frozen=True)
class Question(GoldAnswers):
    qid: str
    question: str
    answers: tuple[GoldAnswer, ...]
    impossible: bool = False  # SQuAD 2.0 is_impossible: the only right answer is ""


@dataclass(frozen=True)
class Paragraph:
    context: str
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Article:
    key: str  # "<file name>#<index in the file>": unique over all files of a call
    title: str
    source: str  # the file's name
    paragraphs: tuple[Paragraph, ...]

    @property
    def num_questions(self) -> int:
        return sum(len(p.questions) for p in self.paragraphs)


@dataclass(frozen=True)
class LoadNotes:
    """What was repaired or left out while reading a file (all counts are gold answers or
    questions of that file)."""

    utf16_offsets: int = 0  # answer_start converted from UTF-16 code units
    unlocated_answers: int = 0  # answer_start -1: kept for scoring only
    dropped_questions: tuple[str, ...] = field(default_factory=tuple)  # no located gold answer

    def to_dict(self) -> dict[str, Any]:
        return {
            "utf16_offsets_converted": self.utf16_offsets,
            "unlocated_answers_scored_only": self.unlocated_answers,
            "dropped_questions": list(self.dropped_questions),
        }


@dataclass(frozen=True)
class QAFile:
    path: str
    version: str
    articles: tuple[Article, ...]
    notes: LoadNotes

    @property
    def num_questions(self) -> int:
        return sum(a.num_questions for a in self.articles)


def _need(obj: Any, key: str, kind: type, where: str, path: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind):
        raise BitbenchError(
            f"'{path}' is not a SQuAD-format file: {where} has no {kind.__name__} '{key}' "
            f"(expected {LAYOUT})"
        )
    return value


def _utf16_offset_to_char(context: str, offset: int) -> int | None:
    """The character index at ``offset`` UTF-16 code units, or None past the end."""
    units = 0
    for i, ch in enumerate(context):
        if units == offset:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(context) if units == offset else None


def _locate(context: str, text: str, start: int, qid: str, path: str) -> tuple[int | None, bool]:
    """(character offset or None for CMRC's -1, whether it was converted from UTF-16)."""
    if start == UNLOCATED:
        return None, False
    if start >= 0 and context[start : start + len(text)] == text:
        return start, False
    if start >= 0:
        converted = _utf16_offset_to_char(context, start)
        if converted is not None and context[converted : converted + len(text)] == text:
            return converted, True
    found = context[max(start, 0) : max(start, 0) + len(text)]
    raise BitbenchError(
        f"'{path}': question {qid!r}: answer_start {start} does not point at its text {text!r} "
        f"(the context there reads {found!r}): fix answer_start (a character offset into the "
        "context), or -1 for an answer that is not in the context"
    )


def _question(raw: Any, context: str, where: str, path: str, tally: dict[str, int]) -> Question:
    qid = str(raw.get("id", "")) if isinstance(raw, dict) else ""
    where = f"{where} question {qid!r}" if qid else where
    text = _need(raw, "question", str, where, path)
    answers = []
    for a in _need(raw, "answers", list, where, path):
        answer_text = _need(a, "text", str, f"{where} answer", path)
        start = _need(a, "answer_start", int, f"{where} answer", path)
        located, converted = _locate(context, answer_text, start, qid, path)
        tally["utf16"] += converted
        tally["unlocated"] += located is None
        answers.append(GoldAnswer(answer_text, located))
    impossible = bool(raw.get("is_impossible", False))
    if not impossible and not answers:
        raise BitbenchError(
            f"'{path}': {where} has no answers and is not marked is_impossible: give its gold "
            "answers, or set is_impossible (SQuAD 2.0)"
        )
    return Question(qid=qid, question=text, answers=tuple(answers), impossible=impossible)


def load_squad(path: str | Path) -> QAFile:
    """Read one SQuAD-format file (see the module doc)."""
    path = str(path)
    text = read_text(path, "QA file", error=BitbenchError)
    if not text.strip():
        raise BitbenchError(f"QA file '{path}' is empty: pass a SQuAD-format JSON file")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BitbenchError(
            f"QA file '{path}' is not JSON (line {exc.lineno}: {exc.msg}): pass a SQuAD-format "
            "JSON file"
        ) from None
    name = Path(path).name
    tally = {"utf16": 0, "unlocated": 0}
    dropped: list[str] = []
    articles = []
    for i, art in enumerate(_need(raw, "data", list, "the top level", path)):
        paragraphs = []
        for j, par in enumerate(_need(art, "paragraphs", list, f"article {i}", path)):
            where = f"article {i} paragraph {j}"
            context = _need(par, "context", str, where, path)
            kept = []
            for q in _need(par, "qas", list, where, path):
                question = _question(q, context, where, path, tally)
                if question.impossible or question.located is not None:
                    kept.append(question)
                else:
                    dropped.append(question.qid)
            paragraphs.append(Paragraph(context, tuple(kept)))
        title = art.get("title") if isinstance(art.get("title"), str) else ""
        articles.append(Article(f"{name}#{i}", title, name, tuple(paragraphs)))
    result = QAFile(
        path=path,
        version=str(raw.get("version", "")),
        articles=tuple(articles),
        notes=LoadNotes(tally["utf16"], tally["unlocated"], tuple(dropped)),
    )
    if result.num_questions == 0:
        raise BitbenchError(
            f"QA file '{path}' holds no questions: pass a SQuAD-format file with qas"
        )
    return result
