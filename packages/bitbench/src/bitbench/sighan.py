"""SIGHAN word segmentation scores as the official bakeoff script (``score``, Perl) computes them.

The script reads the gold and the test file line by line (stopping at the shorter one), skips
lines whose gold is empty, turns U+3000 (ideographic space) into a space, drops CR, splits on
ASCII whitespace, and aligns the two word lists of each line with ``diff`` (a longest common
subsequence of words). A gold word counts as recalled, and a test word as precise, when the
alignment pairs it with an identical word; so recall = LCS / gold words and precision = LCS /
test words, summed over lines. With the training word list, a gold word is OOV when it is not
in the list; OOV (IV) recall is the share of OOV (IV) gold words recalled.

That is not quite "both ends match": a word can be paired with an identical word at another
place in the line. Nor is it quite the longest common subsequence: before its search GNU diff
discards "confusing" lines (no match in the other file, or runs of words that occur very
often, such as "，" and "的", between them), and a discarded word is never paired. ``lcs_matched``
follows GNU diffutils 3.8: identical first and last words are set aside (``find_identical_ends``),
``diff_kept`` applies ``discard_confusing_lines`` (``analyze.c``) to the rest, and the LCS of the
words kept is exact, as diff's own search is for lines this short. Measured against the script on
the PKU test set with random segmentations: the same recalled-word counts to within 0.01%; tests
run the script itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
from bittrain.fileio import read_text

from bitbench.errors import BitbenchError

_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")


def split_words(line: str) -> list[str]:
    """The words of one line, split the way the official script splits them."""
    line = line.replace("\u3000", " ").replace("\r", "")
    return [w for w in _ASCII_SPACE.split(line) if w]


def read_segmented_lines(path: str | Path, what: str = "gold segmentation") -> list[list[str]]:
    """The words of every line of a segmented file, empty lines kept (line i of the file is the
    gold of input line i, as the script pairs them)."""
    return [
        split_words(line) for line in read_text(Path(path), what, error=BitbenchError).splitlines()
    ]


def read_word_list(path: str | Path) -> frozenset[str]:
    """The training word list (one word per line; surrounding ASCII whitespace ignored)."""
    path = Path(path)
    text = read_text(path, "word list", error=BitbenchError)
    words = frozenset(w for w in (line.strip(" \t\n\r\f\v") for line in text.split("\n")) if w)
    if not words:
        raise BitbenchError(f"word list '{path}' is empty: give one training word per line")
    return words


@numba.njit(cache=True)
def _lcs_kernel(a: np.ndarray, b: np.ndarray, table: np.ndarray, matched: np.ndarray) -> int:
    """LCS of int sequences a [n], b [m]; ``table`` int32 [n+1, m+1] scratch; writes matched
    bool [n] (which a's are paired) and returns the LCS length."""
    n, m = a.shape[0], b.shape[0]
    for i in range(n + 1):
        table[i, 0] = 0
    for j in range(m + 1):
        table[0, j] = 0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if a[i - 1] == b[j - 1]:
                table[i, j] = table[i - 1, j - 1] + 1
            elif table[i - 1, j] >= table[i, j - 1]:
                table[i, j] = table[i - 1, j]
            else:
                table[i, j] = table[i, j - 1]
    for i in range(n):
        matched[i] = False
    i, j = n, m
    while i > 0 and j > 0:
        if a[i - 1] == b[j - 1]:
            matched[i - 1] = True
            i -= 1
            j -= 1
        elif table[i - 1, j] >= table[i, j - 1]:
            i -= 1
        else:
            j -= 1
    return table[n, m]


def _sqrt_scale(n: int, start: int) -> int:
    """``start`` doubled once per factor 4 in ``n`` (diff's approximate square roots)."""
    n >>= 2
    while n > 0:
        start *= 2
        n >>= 2
    return start


def _discard_marks(ids: np.ndarray, other_counts: dict[int, int]) -> list[int]:
    """diff's discard marks of one file: 1 = no match in the other file, 2 = provisional (more
    matches than about 5 * sqrt(lines / 64)), then provisional marks cancelled unless they sit
    well inside a run of discards; returns 0 (kept) or non-zero (discarded) per line."""
    n = len(ids)
    many = _sqrt_scale(n // 64, 5)
    marks = []
    for w in ids.tolist():
        count = other_counts.get(w, 0)
        marks.append(1 if count == 0 else 2 if count > many else 0)
    i = 0
    while i < n:
        if marks[i] == 2:
            marks[i] = 0  # a provisional line before any sure discard stays
        elif marks[i] != 0:
            j, provisional = i, 0
            while j < n and marks[j] != 0:
                provisional += marks[j] == 2
                j += 1
            while j > i and marks[j - 1] == 2:  # runs end on sure discards
                j -= 1
                marks[j] = 0
                provisional -= 1
            length = j - i
            if provisional * 4 > length:
                for k in range(i, j):
                    if marks[k] == 2:
                        marks[k] = 0
            else:
                _thin_provisionals(marks, i, length)
                i += length - 1
        i += 1
    return marks


def _thin_provisionals(marks: list[int], i: int, length: int) -> None:
    """Inside a run [i, i + length) of discards: keep long stretches of provisionals and those
    near either end of the run (diff's rules)."""
    minimum = _sqrt_scale(length >> 2, 1) + 1
    consec, j = 0, 0
    while j < length:
        if marks[i + j] != 2:
            consec = 0
        else:
            consec += 1
            if consec == minimum:
                j -= consec  # back to the start of this stretch: cancel all of it
            elif consec > minimum:
                marks[i + j] = 0
        j += 1
    for step in (1, -1):
        base = i if step == 1 else i + length - 1
        consec = 0
        for j in range(length):
            k = base + step * j
            if j >= 8 and marks[k] == 1:
                break
            if marks[k] == 2:
                consec, marks[k] = 0, 0
            elif marks[k] == 0:
                consec = 0
            else:
                consec += 1
            if consec == 3:
                break


def diff_kept(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """bool masks of the lines GNU diff keeps for its search (``a``, ``b``: int line classes)."""
    counts_a: dict[int, int] = {}
    counts_b: dict[int, int] = {}
    for w in a.tolist():
        counts_a[w] = counts_a.get(w, 0) + 1
    for w in b.tolist():
        counts_b[w] = counts_b.get(w, 0) + 1
    keep_a = np.array([m == 0 for m in _discard_marks(a, counts_b)], dtype=bool)
    keep_b = np.array([m == 0 for m in _discard_marks(b, counts_a)], dtype=bool)
    return keep_a, keep_b


def lcs_matched(gold: Sequence[str], test: Sequence[str], *, like_diff: bool = True) -> np.ndarray:
    """bool [len(gold)]: the gold words paired with an identical test word by a longest common
    subsequence (of the words GNU diff keeps, with ``like_diff``)."""
    ids: dict[str, int] = {}
    a = np.array([ids.setdefault(w, len(ids)) for w in gold], dtype=np.int64)
    b = np.array([ids.setdefault(w, len(ids)) for w in test], dtype=np.int64)
    matched = np.zeros(a.shape[0], dtype=np.bool_)
    if not (a.size and b.size):
        return matched
    # diff first sets aside the identical first and last lines (find_identical_ends)
    prefix = suffix = 0
    shortest = min(a.size, b.size)
    while prefix < shortest and a[prefix] == b[prefix]:
        prefix += 1
    while suffix < shortest - prefix and a[a.size - 1 - suffix] == b[b.size - 1 - suffix]:
        suffix += 1
    matched[:prefix] = True
    matched[a.size - suffix :] = True
    a_mid, b_mid = a[prefix : a.size - suffix], b[prefix : b.size - suffix]
    if not (a_mid.size and b_mid.size):
        return matched
    if like_diff:
        keep_a, keep_b = diff_kept(a_mid, b_mid)
    else:
        keep_a, keep_b = np.ones(a_mid.size, bool), np.ones(b_mid.size, bool)
    xa, xb = a_mid[keep_a], b_mid[keep_b]
    if xa.size and xb.size:
        sub = np.zeros(xa.size, dtype=np.bool_)
        _lcs_kernel(xa, xb, np.empty((xa.size + 1, xb.size + 1), dtype=np.int32), sub)
        matched[prefix + np.flatnonzero(keep_a)] = sub
    return matched


def lcs_length_reference(gold: Sequence[str], test: Sequence[str]) -> int:
    """Plain-Python LCS length (the reference of ``lcs_matched`` in tests)."""
    prev = [0] * (len(test) + 1)
    for g in gold:
        row = [0]
        for j, t in enumerate(test):
            row.append(prev[j] + 1 if g == t else max(prev[j + 1], row[j]))
        prev = row
    return prev[-1]


@dataclass(frozen=True)
class SighanCounts:
    """Word counts summed over lines (``oov``/``oov_recalled`` stay 0 without a word list)."""

    gold_words: int = 0
    test_words: int = 0
    recalled: int = 0  # gold words paired with an identical test word (= precise test words)
    oov: int = 0
    oov_recalled: int = 0
    has_dictionary: bool = False

    @property
    def recall(self) -> float:
        return self.recalled / self.gold_words if self.gold_words else 0.0

    @property
    def precision(self) -> float:
        return self.recalled / self.test_words if self.test_words else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def oov_rate(self) -> float | None:
        if not self.has_dictionary:
            return None
        return self.oov / self.gold_words if self.gold_words else 0.0

    @property
    def oov_recall(self) -> float | None:
        if not self.has_dictionary or not self.oov:
            return None
        return self.oov_recalled / self.oov

    @property
    def iv_recall(self) -> float | None:
        iv = self.gold_words - self.oov
        if not self.has_dictionary or not iv:
            return None
        return (self.recalled - self.oov_recalled) / iv

    def as_dict(self) -> dict[str, float | int | None]:
        out: dict[str, float | int | None] = {
            "word_precision": self.precision,
            "word_recall": self.recall,
            "word_f1": self.f1,
            "gold_words": self.gold_words,
            "predicted_words": self.test_words,
        }
        if self.has_dictionary:
            out.update(oov_rate=self.oov_rate, oov_recall=self.oov_recall, iv_recall=self.iv_recall)
        return out


def score_lines(
    gold: Iterable[Sequence[str]],
    test: Iterable[Sequence[str]],
    dictionary: frozenset[str] | None = None,
) -> SighanCounts:
    """Score test words against gold words, line by line (the official script's counts)."""
    gold_words = test_words = recalled = oov = oov_recalled = 0
    for g, t in zip(gold, test, strict=False):  # the script stops at the shorter file
        if not g:
            continue
        matched = lcs_matched(g, t)
        gold_words += len(g)
        test_words += len(t)
        recalled += int(matched.sum())
        if dictionary is not None:
            unknown = np.array([w not in dictionary for w in g], dtype=bool)
            oov += int(unknown.sum())
            oov_recalled += int((unknown & matched).sum())
    return SighanCounts(gold_words, test_words, recalled, oov, oov_recalled, dictionary is not None)


def format_segmented(lines: Sequence[Sequence[str]], sep: str = "  ") -> str:
    """One output line per input line, words joined by ``sep``, nothing else: with a whitespace
    ``sep`` (SIGHAN files use two spaces) the file the official script reads."""
    return "".join(sep.join(words) + "\n" for words in lines)


_SCORE_KEYS = {
    "TOTAL TRUE WORD COUNT": "gold_words",
    "TOTAL TEST WORD COUNT": "predicted_words",
    "TOTAL TRUE WORDS RECALL": "word_recall",
    "TOTAL TEST WORDS PRECISION": "word_precision",
    "F MEASURE": "word_f1",
    "OOV Rate": "oov_rate",
    "OOV Recall Rate": "oov_recall",
    "IV Recall Rate": "iv_recall",
}


def parse_score_output(text: str) -> dict[str, float]:
    """The ``=== NAME:\\tvalue`` summary lines of the official script, under our metric names."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("=== "):
            continue
        name, _, value = line[4:].partition(":")
        key = _SCORE_KEYS.get(name.strip())
        if key is not None:
            try:
                out[key] = float(value.strip())
            except ValueError:
                continue  # "--" when a rate has no words
    return out
