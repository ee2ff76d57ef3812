"""CSV and TSV inputs: one document per row, the text taken from one column.

The column is ``field``: a header name, or a 0-based index (``"2"``). With ``header=True`` (the
default) the first row names the columns and is not a document. TSV follows the IANA rule: no
quoting, a row per line, cells split on tabs (so TSV files are read in line blocks and cut into
pieces like JSON lines). CSV follows RFC 4180 through Python's csv reader (quoted cells may hold
commas, quotes and line breaks). Rows whose cell is empty or whitespace-only are skipped and
counted; a row without the column is an error naming the file and line.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterator
from typing import IO

from bitcodec.errors import BitcodecError
from bitcodec.ingest_split import ReadOptions, encode_text

_BATCH_ROWS = 4096


def column_index(field: str, names: list[str] | None, where: str) -> int:
    """The 0-based column ``field`` names (a header name or an index)."""
    if field.isdigit():
        return int(field)
    if names is None:
        raise BitcodecError(
            f"{where}: field '{field}' names a column, but header=False (no column names)",
            "pass field= a 0-based column index, or header=True",
        )
    if field not in names:
        shown = ", ".join(repr(n) for n in names[:20]) + (" ..." if len(names) > 20 else "")
        raise BitcodecError(
            f"{where}: no column '{field}' (its columns: {shown})",
            "choose the text column with field= (a name or a 0-based index)",
        )
    return names.index(field)


def _short_row(where: str, cells: int, col: int) -> BitcodecError:
    return BitcodecError(
        f"{where}: the row has {cells} column{'s' if cells != 1 else ''}, no column {col} "
        "(0-based)",
        "fix the row, or choose another column with field=",
    )


def _tsv_cells(line: bytes) -> list[bytes]:
    return (line[:-1] if line.endswith(b"\r") else line).split(b"\t")


def tsv_column(path: str, field: str, header: bool) -> int:
    """The column of a TSV file (for pieces past its start: reads its first line)."""
    if not header:
        return column_index(field, None, path)
    with open(path, "rb") as fh:
        first = fh.readline().rstrip(b"\n")
    names = [c.decode("utf-8", "replace") for c in _tsv_cells(first)]
    return column_index(field, names, path)


def tsv_documents(
    chunk: bytes,
    name: str,
    field: str,
    header: bool,
    col: int | None,
    first_line: Callable[[], int],
) -> tuple[list[bytes], int, int]:
    """(documents, skipped, column) of a block of whole TSV lines; ``col`` None: the file's
    first block, whose first line is the header when ``header``."""
    lines = chunk.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    start = 0
    if col is None:
        if header:
            names = [c.decode("utf-8", "replace") for c in _tsv_cells(lines[0])] if lines else []
            col = column_index(field, names, name)
            start = 1
        else:
            col = column_index(field, None, name)
    docs: list[bytes] = []
    skipped = 0
    for i in range(start, len(lines)):
        line = lines[i]
        if not line.strip():
            continue  # a blank line is not a row
        cells = _tsv_cells(line)
        if col >= len(cells):
            raise _short_row(f"{name}:{first_line() + i}", len(cells), col)
        doc = cells[col]
        if doc.strip():
            docs.append(doc)
        else:
            skipped += 1
    return docs, skipped, col


def csv_documents(
    stream: IO[bytes], name: str, opts: ReadOptions
) -> Iterator[tuple[list[bytes], int]]:
    """(documents, skipped) batches of a CSV stream."""
    csv.field_size_limit(max(csv.field_size_limit(), sys.maxsize >> 1))  # documents can be big
    errors = "strict" if opts.strict_utf8 else "surrogateescape"
    text = io.TextIOWrapper(stream, encoding="utf-8", errors=errors, newline="")
    reader = csv.reader(text)
    try:
        col: int | None = None
        if not opts.header:
            col = column_index(opts.field, None, name)
        docs: list[bytes] = []
        skipped = 0
        held = 0
        for row in reader:
            if col is None:  # the header row
                col = column_index(opts.field, row, name)
                continue
            if not row:
                continue  # a blank line is not a row
            if col >= len(row):
                raise _short_row(f"{name}:{reader.line_num}", len(row), col)
            cell = row[col]
            if not cell.strip():
                skipped += 1
                continue
            doc = encode_text(cell, opts.strict_utf8, f"{name}:{reader.line_num}", opts.field)
            docs.append(doc)
            held += len(doc)
            if len(docs) >= _BATCH_ROWS or held >= opts.block_bytes:
                yield docs, skipped
                docs, skipped, held = [], 0, 0
        yield docs, skipped
    except UnicodeDecodeError as exc:
        raise BitcodecError(
            f"{name}: invalid UTF-8 near line {reader.line_num + 1} ({exc.reason})",
            "fix the file, or pass strict_utf8=False to keep raw bytes",
        ) from None
    except csv.Error as exc:
        raise BitcodecError(
            f"{name}:{reader.line_num}: not valid CSV ({exc})", "fix the file"
        ) from None
    finally:
        text.detach()


__all__ = ["column_index", "csv_documents", "tsv_column", "tsv_documents"]
