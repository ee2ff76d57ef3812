"""Labelled text files for the probe: TSV (text<TAB>label, SST-2 style) or CSV (quoted fields,
embedded newlines; ChnSentiCorp style), with header detection and column choice.

A header is recognised when the first row's label field or text field is a usual column name
(``label``, ``sentence``, ``review``, ...) or when the caller names columns. Columns are chosen
by name (with a header) or 0-based index; by default the label is the column named like a label
(else the last column) and the text is the first other column.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bittrain.fileio import read_text

from bitbench.errors import BitbenchError

LABEL_NAMES = ("label", "labels", "sentiment", "class", "category", "target", "y", "polarity")
TEXT_NAMES = ("sentence", "text", "review", "content", "document", "tweet", "comment", "x")


@dataclass(frozen=True)
class LabelledTexts:
    """Texts (UTF-8 bytes) and their labels (strings), in file order."""

    texts: list[bytes]
    labels: list[str]
    source: str
    header: bool

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: np.ndarray) -> LabelledTexts:
        return LabelledTexts(
            [self.texts[i] for i in index], [self.labels[i] for i in index], self.source,
            self.header,
        )  # fmt: skip


def _delimiter_for(path: Path, delimiter: str | None) -> str:
    if delimiter is not None:
        if delimiter in ("\\t", "tab", "TAB"):
            return "\t"
        if len(delimiter) != 1:
            raise BitbenchError(
                f"--delimiter {delimiter!r} must be one character (or 'tab'): e.g. --delimiter ,"
            )
        return delimiter
    return "," if path.suffix.lower() == ".csv" else "\t"


def _rows(path: Path, delimiter: str) -> list[list[str]]:
    text = read_text(path, "labelled file", encoding="utf-8-sig", error=BitbenchError)
    if delimiter == "\t":  # TSV: no quoting (SST-2 sentences contain bare quotes)
        reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = [[field.strip("\r") for field in row] for row in reader]
    return [row for row in rows if any(field.strip() for field in row)]


def _is_header(first: list[str]) -> bool:
    names = {field.strip().lower() for field in first}
    return bool(names & set(LABEL_NAMES)) or bool(names & set(TEXT_NAMES))


def _column(
    spec: str | int | None, header: list[str] | None, n_fields: int, what: str
) -> int | None:
    if spec is None:
        return None
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if not -n_fields <= index < n_fields:
            raise BitbenchError(
                f"--{what}-col {index} is out of range: the file has {n_fields} columns "
                f"(0..{n_fields - 1})"
            )
        return index % n_fields
    if header is None:
        raise BitbenchError(
            f"--{what}-col {text!r} names a column but the file has no header row: "
            "give a 0-based column index"
        )
    lowered = [h.strip().lower() for h in header]
    if text.lower() not in lowered:
        raise BitbenchError(f"--{what}-col {text!r} is not a column: the header has {header}")
    return lowered.index(text.lower())


def read_labelled(
    path: str | Path,
    *,
    text_col: str | int | None = None,
    label_col: str | int | None = None,
    delimiter: str | None = None,
) -> LabelledTexts:
    """Read a TSV/CSV file of labelled texts (see the module doc)."""
    path = Path(path)
    rows = _rows(path, _delimiter_for(path, delimiter))
    if not rows:
        raise BitbenchError(
            f"labelled file '{path}' has no rows: give a TSV/CSV with text and label"
        )
    named = any(
        spec is not None and not str(spec).strip().lstrip("-").isdigit()
        for spec in (text_col, label_col)
    )
    has_header = named or _is_header(rows[0])
    header = rows[0] if has_header else None
    body = rows[1:] if has_header else rows
    n_fields = len(rows[0])
    if n_fields < 2:
        raise BitbenchError(
            f"labelled file '{path}' has one column: expected text and label separated by "
            f"{'a tab' if _delimiter_for(path, delimiter) == chr(9) else repr(delimiter)} "
            "(use --delimiter for other separators)"
        )
    label_index = _column(label_col, header, n_fields, "label")
    text_index = _column(text_col, header, n_fields, "text")
    if label_index is None:
        lowered = [h.strip().lower() for h in header] if header else []
        hits = [i for i, h in enumerate(lowered) if h in LABEL_NAMES and i != text_index]
        label_index = hits[0] if hits else n_fields - 1
        if label_index == text_index:
            label_index = 0 if text_index != 0 else 1
    if text_index is None:
        lowered = [h.strip().lower() for h in header] if header else []
        hits = [i for i, h in enumerate(lowered) if h in TEXT_NAMES and i != label_index]
        text_index = hits[0] if hits else next(i for i in range(n_fields) if i != label_index)
    if text_index == label_index:
        raise BitbenchError("--text-col and --label-col name the same column: pick two columns")
    texts: list[bytes] = []
    labels: list[str] = []
    for number, row in enumerate(body, start=2 if has_header else 1):
        if len(row) <= max(text_index, label_index):
            raise BitbenchError(
                f"labelled file '{path}' row {number} has {len(row)} field(s), expected at least "
                f"{max(text_index, label_index) + 1}: fix the row or pass --delimiter"
            )
        label = row[label_index].strip()
        if not label:
            raise BitbenchError(f"labelled file '{path}' row {number} has an empty label")
        texts.append(row[text_index].strip().encode("utf-8"))
        labels.append(label)
    if not texts:
        raise BitbenchError(f"labelled file '{path}' has a header but no data rows")
    return LabelledTexts(texts, labels, str(path), has_header)


def split_holdout(
    data: LabelledTexts, fraction: float, seed: int
) -> tuple[LabelledTexts, LabelledTexts]:
    """A seeded random (train, test) split for datasets shipped as one file."""
    if not 0.0 < fraction < 1.0:
        raise BitbenchError(f"--test-fraction {fraction} must be in (0, 1): e.g. 0.2")
    order = np.random.default_rng(seed).permutation(len(data))
    n_test = max(1, round(fraction * len(data)))
    if n_test >= len(data):
        raise BitbenchError(f"'{data.source}' has {len(data)} rows: too few to hold out a test set")
    return data.subset(order[n_test:]), data.subset(order[:n_test])


def cap_rows(data: LabelledTexts, limit: int | None, seed: int) -> LabelledTexts:
    """At most ``limit`` rows, a seeded random sample kept in file order (None = all)."""
    if limit is None or limit >= len(data):
        return data
    if limit < 1:
        raise BitbenchError(f"--max-train {limit} must be >= 1")
    keep = np.sort(np.random.default_rng(seed).permutation(len(data))[:limit])
    return data.subset(keep)
