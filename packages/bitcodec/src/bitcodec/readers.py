"""Reading one task into parts of documents, streaming: memory stays bounded by the part size
(plus the largest single document), whatever the size of the input.

``iter_parts(task, options)`` yields the documents of a task as ``Part`` s (at least one, maybe
empty). Line-oriented inputs (text split on lines or paragraphs, JSON lines, TSV) are read in
blocks cut right after a record separator; CSV goes through Python's csv reader (quoted fields
may hold line breaks); Parquet and Arrow through pyarrow in record batches; a file that is one
document (``split_on="file"``, ``.json``, raw bytes) is read whole.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

from bitcodec.arrow_inputs import table_documents
from bitcodec.builtin_corpus import module_docstrings
from bitcodec.errors import BitcodecError
from bitcodec.ingest_split import (
    ReadOptions,
    check_utf8,
    json_documents,
    jsonl_documents,
    text_documents,
)
from bitcodec.parts import Part, PartBuilder
from bitcodec.sources import Task, line_oriented
from bitcodec.streams import boundary, lines_blocks, open_raw, opened
from bitcodec.table_text import csv_documents, tsv_column, tsv_documents


def separators(kind: str, split_on: str) -> tuple[bytes, ...]:
    if kind == "text" and split_on == "blank-line":
        return (b"\n\n", b"\n\r\n")  # right after an empty line: between two paragraphs
    return (b"\n",)


def line_number(path: str, offset: int) -> int:
    """1-based number of the line starting at byte ``offset`` of an uncompressed file."""
    if offset == 0:
        return 1
    count = 0
    with open(path, "rb") as fh:
        remaining = offset
        while remaining > 0:
            buf = fh.read(min(remaining, 1 << 24))
            if not buf:
                break
            count += buf.count(b"\n")
            remaining -= len(buf)
    return count + 1


@contextlib.contextmanager
def _records_stream(task: Task, seps: tuple[bytes, ...], block_bytes: int):
    """(iterator of (chunk, offset in file), offset of the task's first byte)."""
    f = task.file
    if f.data is not None:
        yield iter([(f.data, 0)] if f.data else []), 0
        return
    if task.start == 0 and task.stop < 0:
        with opened(f.path, f.compression) as stream:
            yield lines_blocks(stream, seps, block_bytes), 0
        return
    with open_raw(f.path) as fh:  # a piece of a big uncompressed file
        begin = boundary(fh, task.start, f.size, seps)
        end = boundary(fh, task.stop, f.size, seps)
        fh.seek(begin)
        chunks = lines_blocks(fh, seps, block_bytes, limit=max(0, end - begin))
        yield ((c, begin + off) for c, off in chunks), begin


def _whole(task: Task) -> bytes:
    f = task.file
    if f.data is not None:
        return f.data
    with opened(f.path, f.compression) as stream:
        return stream.read()


def _line_records(task: Task, opts: ReadOptions) -> Iterator[tuple[list[bytes], int]]:
    f = task.file
    name = f.name
    seps = separators(f.kind, opts.split_on)
    col = None  # the TSV column, found from the header in the first block of the file
    if f.kind == "tsv" and task.start > 0:
        col = tsv_column(f.path, opts.field, opts.header)
    with _records_stream(task, seps, opts.block_bytes) as (chunks, base):
        lines_before = 0  # in this task, before the current chunk

        def first_line() -> int:
            return (line_number(f.path, base) if base else 1) + lines_before

        for chunk, offset in chunks:
            if opts.strict_utf8:
                check_utf8(chunk, name, offset)
            if f.kind == "jsonl":
                yield jsonl_documents(chunk, name, opts.field, opts.strict_utf8, first_line)
            elif f.kind == "tsv":
                docs, skipped, col = tsv_documents(
                    chunk, name, opts.field, opts.header, col, first_line
                )
                yield docs, skipped
            else:
                yield text_documents(chunk, opts.split_on)
            lines_before += chunk.count(b"\n")


def _one_document(task: Task, opts: ReadOptions) -> tuple[list[bytes], int]:
    f = task.file
    data = _whole(task)
    if f.kind == "pydoc":
        doc = module_docstrings(data, f.name)
        return ([doc], 0) if doc else ([], 1)
    if opts.strict_utf8 and f.kind != "raw":
        check_utf8(data, f.name)
    if f.kind == "json":
        return json_documents(data, f.name, opts.field, opts.strict_utf8)
    return text_documents(data, "file")  # text split_on="file", doctext, raw


def _csv_records(task: Task, opts: ReadOptions) -> Iterator[tuple[list[bytes], int]]:
    f = task.file
    if f.data is not None:
        yield from csv_documents(io.BytesIO(f.data), f.name, opts)
        return
    with opened(f.path, f.compression) as stream:
        yield from csv_documents(stream, f.name, opts)


def iter_parts(task: Task, opts: ReadOptions) -> Iterator[Part]:
    """The documents of ``task`` in parts (see the module docstring); at least one part."""
    f = task.file
    builder = PartBuilder(opts.part_bytes)
    if f.kind in ("parquet", "arrow"):
        for data, lengths, skipped in table_documents(f.path, f.kind, opts):
            builder.add_concatenated(data, lengths, skipped)
            if builder.full:
                yield builder.take()
        yield builder.take()
        return
    if f.kind == "csv":
        records: Iterator[tuple[list[bytes], int]] = _csv_records(task, opts)
    elif line_oriented(f, opts.split_on) and f.kind != "raw":
        records = _line_records(task, opts)
    elif f.kind in ("text", "json", "raw", "pydoc", "doctext"):
        records = iter([_one_document(task, opts)])
    else:
        raise BitcodecError(f"input '{f.name}' has an unknown kind '{f.kind}'", "report this")
    for docs, skipped in records:
        builder.add_docs(docs, skipped)
        if builder.full:
            yield builder.take()
    yield builder.take()


def read_all(task: Task, opts: ReadOptions) -> Part:
    """All documents of ``task`` as one part (tests, small inputs)."""
    builder = PartBuilder(1 << 62)
    for part in iter_parts(task, opts):
        builder.add_concatenated(part.data, part.lengths, part.skipped_empty)
    return builder.take()
