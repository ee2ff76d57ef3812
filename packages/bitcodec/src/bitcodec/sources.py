"""Inputs of prepare-corpus: finding the files, judging what they are, cutting them into tasks.

``expand_inputs`` turns inputs (files, directories searched recursively, glob patterns, fsspec
URLs, ``-`` for stdin) into ``InputFile`` s in a deterministic order: the order given, and sorted
paths inside each directory or pattern. A Hugging Face ``save_to_disk`` folder (``state.json``
beside ``dataset_info.json``; or ``dataset_dict.json`` naming its splits) stands for its Arrow
shards in their saved order. ``plan_files`` judges each file: its format (``bitcodec.formats``)
and whether it looks binary, which the binary policy turns into an error, a skipped file
(``SkippedFile``, named in the summary and the manifest) or a file kept whole as raw bytes.
``make_tasks`` cuts large uncompressed line-oriented files into pieces of about ``PIECE_BYTES``
that end at record boundaries, so that workers share one big file.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from bitcodec import formats
from bitcodec.errors import BinaryInputError, BitcodecError
from bitcodec.streams import file_stat, head, is_url, url_fs

PIECE_BYTES = 32 << 20
_GLOB_CHARS = set("*?[")
_HEAD_BYTES = 64 << 10  # enough to tell JSON from JSON lines and to judge binary files


@dataclass(frozen=True)
class InputFile:
    """One input file (``path == "-"``: stdin, already read into ``data``)."""

    path: str
    size: int
    mtime_ns: int
    kind: str  # a format of bitcodec.formats, or "raw" | "pydoc" | "doctext"
    compression: str | None = None
    found: bool = False  # found in a directory, by a pattern or in a dataset folder
    data: bytes | None = None  # stdin only

    @property
    def name(self) -> str:
        return "<stdin>" if self.path == "-" else self.path


@dataclass(frozen=True)
class SkippedFile:
    """An input left out because it looks binary (``binary='skip'``, or found in a folder)."""

    path: str
    size: int
    reason: str = "binary"


@dataclass(frozen=True)
class Task:
    """A piece of one input: bytes [start, stop) nominally (pieces end at record bounds)."""

    file: InputFile
    start: int = 0
    stop: int = -1  # -1: to the end

    @property
    def input_bytes(self) -> int:
        stop = self.file.size if self.stop < 0 else self.stop
        return stop - self.start


def hf_dataset_files(directory: str) -> list[str] | None:
    """The Arrow shards of a ``save_to_disk`` folder in saved order, or None if it is not one."""
    join = os.path.join
    dict_json = join(directory, "dataset_dict.json")
    if os.path.isfile(dict_json):
        try:
            splits = json.loads(Path(dict_json).read_text(encoding="utf-8"))["splits"]
        except (OSError, ValueError, KeyError, TypeError):
            raise BitcodecError(
                f"'{dict_json}' is not a Hugging Face dataset dict (no 'splits' list)",
                "check the folder, or name the split folders inside it",
            ) from None
        files: list[str] = []
        for split in splits:
            inner = hf_dataset_files(join(directory, str(split)))
            if inner is None:
                raise BitcodecError(
                    f"split '{split}' of dataset '{directory}' has no state.json",
                    "check the folder, or name the split folders you want",
                )
            files += inner
        return files
    state = join(directory, "state.json")
    if not (os.path.isfile(state) and os.path.isfile(join(directory, "dataset_info.json"))):
        return None
    try:
        data_files = json.loads(Path(state).read_text(encoding="utf-8"))["_data_files"]
        names = [str(d["filename"]) for d in data_files]
    except (OSError, ValueError, KeyError, TypeError):
        raise BitcodecError(
            f"'{state}' is not a Hugging Face datasets state file (no '_data_files' list)",
            "check the folder (datasets' save_to_disk writes it)",
        ) from None
    missing = [n for n in names if not os.path.isfile(join(directory, n))]
    if missing:
        raise BitcodecError(
            f"dataset folder '{directory}' lacks {missing[0]}, named in its state.json",
            "copy the whole folder again",
        )
    return [join(directory, n) for n in names]


def _walk(directory: str) -> list[str]:
    """Files under ``directory`` (hidden ones left out); dataset folders give their shards."""
    files: list[str] = []
    for root, dirs, names in os.walk(directory):
        shards = hf_dataset_files(root)
        if shards is not None:
            files.extend(shards)
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(os.path.join(root, n) for n in sorted(names) if not n.startswith("."))
    return files


def _url_files(url: str) -> list[tuple[str, bool]]:
    """(URL, found) of the files a URL names: a file, a folder (recursive) or a pattern."""
    fs, inner = url_fs(url)
    protocol = url.split("://", 1)[0]

    def unstrip(p: str) -> str:
        return f"{protocol}://{p.lstrip('/') if protocol == 'memory' else p}"

    if _GLOB_CHARS & set(inner):
        matches = sorted(fs.glob(inner))
        if not matches:
            raise BitcodecError(f"input pattern '{url}' matches no files", "check the pattern")
        return [(unstrip(m), True) for m in matches if fs.isfile(m)]
    if not fs.exists(inner):
        raise BitcodecError(f"input '{url}' does not exist", "check the URL")
    if fs.isdir(inner):
        found = sorted(p for p in fs.find(inner) if not os.path.basename(p).startswith("."))
        if not found:
            raise BitcodecError(f"input folder '{url}' holds no files", "check the URL")
        return [(unstrip(p), True) for p in found]
    return [(url, False)]


def _local_files(item: str) -> list[tuple[str, bool]]:
    if os.path.isdir(item):
        files = _walk(item)
        if not files:
            raise BitcodecError(f"input directory '{item}' holds no files", "check the path")
        return [(f, True) for f in files]
    if os.path.exists(item):
        if not os.path.isfile(item):
            raise BitcodecError(f"input '{item}' is not a regular file", "name a file or directory")
        return [(item, False)]
    if _GLOB_CHARS & set(item):
        matches = sorted(glob.glob(item, recursive=True))
        if not matches:
            raise BitcodecError(f"input pattern '{item}' matches no files", "check the pattern")
        return [(f, True) for m in matches for f in (_walk(m) if os.path.isdir(m) else [m])]
    raise BitcodecError(f"input '{item}' does not exist", "check the path")


def _input_file(path: str, found: bool) -> InputFile:
    if not is_url(path) and not os.access(path, os.R_OK):
        raise BitcodecError(
            f"input '{path}' is not readable (permission denied)", "fix its permissions"
        )
    size, mtime_ns = file_stat(path)
    kind, compression = formats.split_name(path)
    return InputFile(path, size, mtime_ns, kind, compression, found)


def expand_inputs(inputs: list[str], stdin_data: bytes | None = None) -> list[InputFile]:
    """Files to read, in order; raises BitcodecError naming a missing/unreadable input."""
    if not inputs:
        raise BitcodecError("no inputs given", "name files, directories, patterns or - for stdin")
    out: list[InputFile] = []
    seen: set[str] = set()
    for item in inputs:
        if item == "-":
            data = stdin_data if stdin_data is not None else b""
            out.append(InputFile("-", len(data), 0, "text", None, False, data))
            continue
        for path, found in _url_files(item) if is_url(item) else _local_files(item):
            key = path if is_url(path) else os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                out.append(_input_file(path, found))
    return out


def _head_of(f: InputFile, n: int) -> bytes:
    return f.data[:n] if f.data is not None else head(f.path, f.compression, n)


def judge(f: InputFile, fmt: str, binary: str) -> InputFile | SkippedFile:
    """The file with its format settled, or a SkippedFile; BinaryInputError when refused."""
    kind = f.kind if fmt == formats.AUTO else fmt
    if kind in formats.TABLE_FORMATS:
        return replace(f, kind=kind, compression=None)
    first = _head_of(f, _HEAD_BYTES)  # decompressed when the name says so
    compression = f.compression
    if compression is None and f.data is None:
        compression = formats.compression_from_magic(first)
        if compression is not None:  # compressed without saying so in its name
            first = head(f.path, compression, _HEAD_BYTES)
    f = replace(f, kind=kind, compression=compression)
    if formats.looks_binary(first):
        policy = binary if binary != "auto" else ("skip" if f.found else "error")
        if policy == "keep":
            return replace(f, kind="raw")
        if policy == "skip":
            return SkippedFile(f.name, f.size)
        raise _binary_error(f, first)
    if kind == "json" and fmt == formats.AUTO:
        return replace(f, kind=formats.json_or_jsonl(first))
    return f


def _binary_error(f: InputFile, first: bytes) -> BinaryInputError:
    table = formats.table_format_of(_head_of(replace(f, compression=None), 8))
    hint = f"; it looks like {table.capitalize()}: pass format='{table}'" if table else ""
    return BinaryInputError(
        f"input '{f.name}' looks binary (a NUL byte in its first "
        f"{formats.SNIFF_BYTES} bytes){hint}",
        "pass binary='skip' to leave it out or binary='keep' to take its raw bytes",
        path=f.name,
        size=f.size,
    )


def plan_files(
    files: list[InputFile], fmt: str = formats.AUTO, binary: str = "auto"
) -> tuple[list[InputFile], list[SkippedFile]]:
    """(files to read, files skipped as binary) under the format and the binary policy."""
    formats.check_format(fmt)
    formats.check_binary_policy(binary)
    kept: list[InputFile] = []
    skipped: list[SkippedFile] = []
    for f in files:
        if f.kind in ("pydoc", "doctext"):  # the built-in corpus: judged by its own rules
            kept.append(f)
            continue
        judged = judge(f, fmt, binary)
        (skipped if isinstance(judged, SkippedFile) else kept).append(judged)  # type: ignore[arg-type]
    return kept, skipped


def line_oriented(f: InputFile, split_on: str) -> bool:
    """True when a record of ``f`` never spans a line break (so it can be cut at lines)."""
    return f.kind in formats.LINE_FORMATS or (f.kind == "text" and split_on != "file")


def make_tasks(files: list[InputFile], split_on: str, piece_bytes: int = PIECE_BYTES) -> list[Task]:
    """One task per file, or pieces of big local uncompressed line-oriented files."""
    tasks: list[Task] = []
    for f in files:
        local = f.data is None and not is_url(f.path) and f.compression is None
        if local and line_oriented(f, split_on) and f.size > piece_bytes:
            for start in range(0, f.size, piece_bytes):
                tasks.append(Task(f, start, min(start + piece_bytes, f.size)))
        else:
            tasks.append(Task(f))
    return tasks
