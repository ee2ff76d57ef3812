"""Inputs of prepare-corpus: finding the files, cutting them into tasks, reading one task.

``expand_inputs`` turns command-line inputs (files, directories searched recursively, glob
patterns, ``-`` for stdin) into ``InputFile`` s in a deterministic order: the order given, and
sorted paths inside each directory or pattern. ``make_tasks`` cuts large uncompressed
line-oriented files into pieces of about ``PIECE_BYTES`` that end at document boundaries, so
that workers share one big file. ``read_task`` (run in worker processes) reads a task and
returns its documents concatenated, with their lengths and digests.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import lzma
import os
from dataclasses import dataclass

import numpy as np

from bitcodec.corpus_format import digests_of
from bitcodec.errors import BitcodecError
from bitcodec.ingest_split import (
    SplitOptions,
    check_utf8,
    json_documents,
    jsonl_documents,
    text_documents,
)

PIECE_BYTES = 32 << 20
COMPRESSIONS = {".gz": "gz", ".zst": "zst", ".zstd": "zst", ".xz": "xz", ".bz2": "bz2"}
_GLOB_CHARS = set("*?[")
_BINARY_SNIFF = 8192


@dataclass(frozen=True)
class InputFile:
    """One input file (``path == "-"``: stdin, already read into ``data``)."""

    path: str
    size: int
    mtime_ns: int
    kind: str  # "text" | "jsonl" | "json" | "pydoc" | "doctext"
    compression: str | None = None
    found: bool = False  # found in a directory or by a pattern: binary files are skipped
    data: bytes | None = None  # stdin only


@dataclass(frozen=True)
class Task:
    """A piece of one input: bytes [start, stop) nominally (pieces end at document bounds)."""

    file: InputFile
    start: int = 0
    stop: int = -1  # -1: to the end

    @property
    def input_bytes(self) -> int:
        stop = self.file.size if self.stop < 0 else self.stop
        return stop - self.start


@dataclass
class TaskResult:
    """Documents of one task: concatenated bytes, int64 lengths [d], digests (16 bytes each).

    From a worker, ``data`` is empty and ``spool`` names a file holding it (a file read
    through mmap costs the main process far less than bytes sent through a pipe).
    """

    data: bytes | memoryview
    lengths: np.ndarray
    digests: bytes
    skipped_empty: int = 0
    skipped_binary: bool = False
    spool: str | None = None

    @property
    def num_docs(self) -> int:
        return len(self.lengths)


def kind_of(path: str) -> tuple[str, str | None]:
    """(format, compression) from the file name: ``x.jsonl.zst`` -> ("jsonl", "zst")."""
    name = path.lower()
    compression = None
    for suffix, comp in COMPRESSIONS.items():
        if name.endswith(suffix):
            compression, name = comp, name[: -len(suffix)]
            break
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl", compression
    if name.endswith(".json"):
        return "json", compression
    return "text", compression


def _input_file(path: str, found: bool) -> InputFile:
    if not os.access(path, os.R_OK):
        raise BitcodecError(
            f"input '{path}' is not readable (permission denied): fix its permissions"
        )
    st = os.stat(path)
    kind, compression = kind_of(path)
    return InputFile(path, st.st_size, st.st_mtime_ns, kind, compression, found)


def _walk(directory: str) -> list[str]:
    files: list[str] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(os.path.join(root, n) for n in sorted(names) if not n.startswith("."))
    return files


def expand_inputs(inputs: list[str], stdin_data: bytes | None = None) -> list[InputFile]:
    """Files to read, in order; raises BitcodecError naming a missing/unreadable input."""
    if not inputs:
        raise BitcodecError("no inputs given: name files, directories, patterns or - for stdin")
    out: list[InputFile] = []
    seen: set[str] = set()

    def add(path: str, found: bool) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.append(_input_file(path, found))

    for item in inputs:
        if item == "-":
            data = stdin_data if stdin_data is not None else b""
            out.append(InputFile("-", len(data), 0, "text", None, False, data))
        elif os.path.isdir(item):
            files = _walk(item)
            if not files:
                raise BitcodecError(f"input directory '{item}' holds no files: check the path")
            for f in files:
                add(f, True)
        elif os.path.exists(item):
            if not os.path.isfile(item):
                raise BitcodecError(
                    f"input '{item}' is not a regular file: name a file or directory"
                )
            add(item, False)
        elif _GLOB_CHARS & set(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise BitcodecError(f"input pattern '{item}' matches no files: check the pattern")
            for m in matches:
                for f in _walk(m) if os.path.isdir(m) else [m]:
                    add(f, True)
        else:
            raise BitcodecError(f"input '{item}' does not exist: check the path")
    return out


def make_tasks(files: list[InputFile], split_on: str, piece_bytes: int = PIECE_BYTES) -> list[Task]:
    """One task per file, or pieces of big uncompressed line-oriented files."""
    tasks: list[Task] = []
    for f in files:
        line_oriented = f.kind == "jsonl" or (f.kind == "text" and split_on != "file")
        if f.data is None and f.compression is None and line_oriented and f.size > piece_bytes:
            for start in range(0, f.size, piece_bytes):
                tasks.append(Task(f, start, min(start + piece_bytes, f.size)))
        else:
            tasks.append(Task(f))
    return tasks


def _decompress(path: str, compression: str) -> bytes:
    try:
        if compression == "gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        if compression == "xz":
            with lzma.open(path, "rb") as fh:
                return fh.read()
        if compression == "bz2":
            with bz2.open(path, "rb") as fh:
                return fh.read()
        import zstandard

        with open(path, "rb") as raw:
            return zstandard.ZstdDecompressor().stream_reader(raw).readall()
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise BitcodecError(
            f"{path}: cannot decompress it as .{compression} ({exc}): check the file"
        ) from None
    except Exception as exc:  # zstandard.ZstdError
        if type(exc).__name__ == "ZstdError":
            raise BitcodecError(
                f"{path}: cannot decompress it as .zst ({exc}): check the file"
            ) from None
        raise


def _boundary(fh, x: int, size: int, seps: tuple[bytes, ...]) -> int:
    """The first position p >= x right after one of ``seps`` (or the end of the file).

    Every worker computes the same boundaries, so consecutive pieces [b(start), b(stop)) tile
    the file exactly and never cut a document.
    """
    if x <= 0:
        return 0
    if x >= size:
        return size
    back = max(len(s) for s in seps)
    offset = max(0, x - back)  # file position of buf[0]: a separator ending at x starts here
    fh.seek(offset)
    buf = fh.read(1 << 20)
    while True:
        hits = []
        for sep in seps:
            i = buf.find(sep, max(0, x - len(sep) - offset))
            if i >= 0:
                hits.append(offset + i + len(sep))
        if hits:
            return min(hits)
        more = fh.read(1 << 20)
        if not more:
            return size
        keep = min(back - 1, len(buf))  # a separator may straddle the two reads
        offset += len(buf) - keep
        buf = buf[len(buf) - keep :] + more


def _separators(file: InputFile, split_on: str) -> tuple[bytes, ...]:
    if file.kind == "text" and split_on == "blank-line":
        return (b"\n\n", b"\n\r\n")  # right after an empty line: between two paragraphs
    return (b"\n",)


def read_task_bytes(task: Task, split_on: str) -> tuple[bytes, int]:
    """(bytes of the task, byte offset of its first byte in the file)."""
    f = task.file
    if f.data is not None:
        return f.data, 0
    try:
        if f.compression is not None:
            return _decompress(f.path, f.compression), 0
        with open(f.path, "rb") as fh:
            if task.start == 0 and task.stop < 0:
                return fh.read(), 0
            seps = _separators(f, split_on)
            begin = _boundary(fh, task.start, f.size, seps)
            end = _boundary(fh, task.stop, f.size, seps)
            fh.seek(begin)
            return fh.read(max(0, end - begin)), begin
    except OSError as exc:
        raise BitcodecError(
            f"input '{f.path}' cannot be read ({exc.strerror or exc}): check it"
        ) from None


def _line_number(path: str, offset: int) -> int:
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


def documents_of(
    task: Task, data: bytes, base: int, options: SplitOptions
) -> tuple[list[bytes], int]:
    """(documents, skipped) of a task's bytes, following the rules of ingest_split."""
    f = task.file
    name = "<stdin>" if f.path == "-" else f.path
    if f.kind == "pydoc":
        from bitcodec.builtin_corpus import module_docstrings

        doc = module_docstrings(data, name)
        return ([doc], 0) if doc else ([], 1)
    if options.strict_utf8:
        check_utf8(data, name, base)
    if f.kind == "doctext":
        return text_documents(data, "file")
    if f.kind == "jsonl":
        # the line number of a piece's first line is only counted when an error needs it
        first_line = (lambda: _line_number(f.path, base)) if base else (lambda: 1)
        return jsonl_documents(data, name, options.field, options.strict_utf8, first_line)
    if f.kind == "json":
        return json_documents(data, name, options.field, options.strict_utf8)
    return text_documents(data, options.split_on)


def read_task(task: Task, options: SplitOptions) -> TaskResult:
    """Read one task into documents (runs in worker processes)."""
    data, base = read_task_bytes(task, options.split_on)
    if task.file.found and task.file.kind == "text" and b"\x00" in data[:_BINARY_SNIFF]:
        return TaskResult(b"", np.zeros(0, np.int64), b"", skipped_binary=True)
    docs, skipped = documents_of(task, data, base, options)
    lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
    return TaskResult(b"".join(docs), lengths, digests_of(docs), skipped)


def read_task_to_spool(task: Task, options: SplitOptions, spool_path: str) -> TaskResult:
    """``read_task``, with the documents' bytes written to ``spool_path`` instead of returned."""
    result = read_task(task, options)
    with open(spool_path, "wb") as fh:
        fh.write(result.data)
    result.data = b""
    result.spool = spool_path
    return result
