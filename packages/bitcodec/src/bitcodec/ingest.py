"""prepare_corpus: inputs -> parts of documents (reader processes) -> CorpusWriter, resumable.

The inputs are expanded and judged first (``sources``: formats, binary files under the binary
policy), then cut into tasks; readers stream each task's documents back in parts, in order
(``ingest_pool``), so the output never depends on the number of readers. The main process adds
the parts in order and checkpoints between them; ``resume=True`` continues after the last
checkpoint, and on a store that is already complete it checks that the same inputs and options
made it (and changes nothing) or names what differs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bitcodec.builtin_corpus import builtin_files
from bitcodec.corpus_format import DEFAULT_CHUNK_BYTES, DEFAULT_ZSTD_LEVEL, DIGEST_SIZE
from bitcodec.corpus_paths import is_complete_store
from bitcodec.corpus_summary import CorpusSummary, complete_store_summary
from bitcodec.corpus_writer import CorpusWriter, writer_settings
from bitcodec.errors import BitcodecError
from bitcodec.formats import AUTO, check_binary_policy, check_format
from bitcodec.ingest_pool import PartItem, run_in_process, run_in_readers
from bitcodec.ingest_split import ReadOptions
from bitcodec.parts import PART_BYTES, Part
from bitcodec.sources import (
    PIECE_BYTES,
    InputFile,
    SkippedFile,
    Task,
    expand_inputs,
    make_tasks,
    plan_files,
)
from bitcodec.streams import BLOCK_BYTES
from bitcodec.writable import check_writable

log = logging.getLogger(__name__)

# Tests only: seconds to sleep after each part, so that a run can be killed in the middle.
DELAY_ENV = "BITCODEC_INGEST_TASK_DELAY_S"

ProgressFn = Callable[[int, int, int], None]  # (input bytes done, input bytes total, docs)
_SUMMARY_OPTIONS = ("split_on", "field", "format", "binary", "header", "val_fraction", "dedup",
                    "strict_utf8", "max_bytes", "builtin")  # fmt: skip


@dataclass(frozen=True)
class PrepareOptions:
    """How prepare_corpus reads its inputs and writes the store.

    ``format``: ``"auto"`` (from names and contents) or one format for every input.
    ``binary``: what to do with inputs that look binary: ``"auto"`` (an input named directly is
    an error, one found in a directory or by a pattern is skipped), ``"error"``, ``"skip"``
    (left out, named in the summary and the store's manifest) or ``"keep"`` (its raw bytes).
    ``header``: CSV/TSV files start with a row of column names.
    """

    split_on: str = "file"
    field: str = "text"
    strict_utf8: bool = False
    format: str = AUTO
    binary: str = "auto"
    header: bool = True
    val_fraction: float = 0.01
    dedup: bool = False
    workers: int = 0  # 0: one per CPU core; 1: read in this process
    max_bytes: int | None = None  # stop after this many document bytes (a deterministic prefix)
    builtin: str | None = None  # "pydocs": no inputs needed
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    zstd_level: int = DEFAULT_ZSTD_LEVEL
    checkpoint_every_s: float = 10.0
    piece_bytes: int = PIECE_BYTES
    part_bytes: int = PART_BYTES
    block_bytes: int = BLOCK_BYTES
    parallel_min_bytes: int = 8 << 20  # smaller inputs are read in this process (no spawn cost)

    def __post_init__(self) -> None:
        self.read_options()  # validates split_on and field early
        check_format(self.format)
        check_binary_policy(self.binary)
        if self.max_bytes is not None and self.max_bytes < 1:
            raise BitcodecError(f"max_bytes must be positive, got {self.max_bytes}")

    def read_options(self) -> ReadOptions:
        return ReadOptions(self.split_on, self.field, self.strict_utf8, self.header,
                           self.block_bytes, self.part_bytes)  # fmt: skip


def _inputs_digest(files: list[InputFile]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for f in files:
        h.update(json.dumps([f.path, f.size, f.mtime_ns, f.kind, f.compression]).encode())
        if f.data is not None:
            h.update(hashlib.blake2b(f.data, digest_size=16).digest())
    return h.hexdigest()


def _take_prefix(part: Part, budget: int) -> Part:
    """The documents of ``part`` that fit in ``budget`` bytes (whole documents only)."""
    ends = np.cumsum(part.lengths)
    n = int(np.searchsorted(ends, budget, side="right"))
    nbytes = int(ends[n - 1]) if n else 0
    return Part(part.data[:nbytes], part.lengths[:n], part.digests[: n * DIGEST_SIZE],
                part.skipped_empty)  # fmt: skip


def plan_inputs(
    inputs: list[str], opts: PrepareOptions, stdin_data: bytes | None = None
) -> list[InputFile]:
    """The input files of a run (its built-in corpus, or the expanded ``inputs``)."""
    if opts.builtin:
        if inputs:
            raise BitcodecError(
                "a built-in corpus takes no inputs", "drop the inputs or drop builtin="
            )

        return builtin_files(opts.builtin)
    return expand_inputs(inputs, stdin_data)


def _manifest(files: list[InputFile]) -> list[dict[str, Any]]:
    return [{"path": f.path, "size": f.size, "mtime_ns": f.mtime_ns, "format": f.kind}
            for f in files if f.path != "-"]  # fmt: skip


def _parts(
    tasks: list[Task], opts: PrepareOptions, start: tuple[int, int], spool: Path
) -> Iterator[PartItem]:
    """Parts from ``start`` on: in this process for small inputs or ``workers=1``."""
    rest = tasks[start[0] :]
    total = sum(t.input_bytes for t in rest)
    in_memory = any(t.file.path.startswith("memory://") for t in rest)  # not seen by readers
    workers = min(opts.workers or os.cpu_count() or 1, len(rest))
    if workers < 1 or opts.workers == 1 or in_memory or total < opts.parallel_min_bytes:
        return run_in_process(tasks, opts.read_options(), start)
    return run_in_readers(tasks, opts.read_options(), workers, spool, start)


class _Run:
    """The counters of one run, kept in the writer's checkpoints for resuming."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state: dict[str, Any] = {"tasks_done": 0, "parts_done": 0, "input_bytes": 0,
                                      "doc_bytes_read": 0, "docs_read": 0, "skipped_empty": 0}  # fmt: skip
        self.state.update(state or {})

    def add(self, writer: CorpusWriter, task: Task, k: int, last: bool, part: Part,
            max_bytes: int | None) -> bool:  # fmt: skip
        """Add one part; True when ``max_bytes`` is reached."""
        s = self.state
        capped = max_bytes is not None and s["doc_bytes_read"] + part.num_bytes >= max_bytes
        if capped:
            part = _take_prefix(part, max_bytes - s["doc_bytes_read"])  # type: ignore[operator]
        writer.add_many(part.data, part.lengths, part.digests, source=task.file.name)
        s["tasks_done"] += int(last)
        s["parts_done"] = 0 if last else k + 1
        s["input_bytes"] += task.input_bytes if last else 0
        s["doc_bytes_read"] += part.num_bytes
        s["docs_read"] += part.num_docs
        s["skipped_empty"] += part.skipped_empty
        return capped


def prepare_corpus(
    inputs: list[str],
    out: str | os.PathLike[str],
    options: PrepareOptions | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    stdin_data: bytes | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Read ``inputs`` into a corpus store at ``out``; returns the run's summary as a dict."""
    opts = options or PrepareOptions()
    t0 = time.perf_counter()
    check_writable(out, "corpus store", beside=True)  # before any input is read
    found = plan_inputs(inputs, opts, stdin_data)
    files, skipped = plan_files(found, opts.format, opts.binary)
    tasks = make_tasks(files, opts.split_on, opts.piece_bytes)
    total_in = sum(t.input_bytes for t in tasks)
    if opts.max_bytes is not None and opts.builtin:
        total_in = min(total_in, opts.max_bytes)
    settings = {
        "split_on": opts.split_on,
        "field": opts.field,
        "strict_utf8": opts.strict_utf8,
        "format": opts.format,
        "binary": opts.binary,
        "header": opts.header,
        "max_bytes": opts.max_bytes,
        "builtin": opts.builtin,
        "inputs": _inputs_digest(found),
    }
    manifest = _manifest(files) + [{"path": s.path, "size": s.size} for s in skipped]
    writer_args = {"val_fraction": opts.val_fraction, "dedup": opts.dedup, "options": settings,
                   "chunk_bytes": opts.chunk_bytes}  # fmt: skip
    if resume and not overwrite and is_complete_store(Path(out)):
        kept = [{k: v for k, v in m.items() if k != "format"} for m in manifest]
        summary = complete_store_summary(out, writer_settings(**writer_args), kept)
        return _result(out, summary, _Run(), files, skipped, opts, t0, 0, False, True, True)
    writer = CorpusWriter(out, overwrite=overwrite, resume=resume, sources=_manifest(files),
                          zstd_level=opts.zstd_level, checkpoint_every_s=opts.checkpoint_every_s,
                          **writer_args)  # fmt: skip
    with writer:
        for s in skipped:
            writer.note_skipped(s.path, s.size, s.reason)
        run = _Run(writer.resume_state if writer.resumed else None)
        read_at_start = run.state["doc_bytes_read"]
        capped = opts.max_bytes is not None and read_at_start >= opts.max_bytes
        _report(progress, run, opts, total_in)
        if not capped:
            capped = _add_all(writer, tasks, run, opts, progress, total_in)
        if run.state["docs_read"] == 0:
            raise BitcodecError(*_empty_message(inputs, opts, run.state, skipped))
        writer.checkpoint(run.state)
        summary = writer.close()
    doc_bytes = run.state["doc_bytes_read"] - read_at_start
    return _result(out, summary, run, files, skipped, opts, t0, doc_bytes, capped,
                   writer.resumed, False)  # fmt: skip


def _report(progress: ProgressFn | None, run: _Run, opts: PrepareOptions, total: int) -> None:
    if progress:
        s = run.state
        progress(s["doc_bytes_read"] if opts.builtin else s["input_bytes"], total, s["docs_read"])


def _add_all(writer: CorpusWriter, tasks: list[Task], run: _Run, opts: PrepareOptions,
             progress: ProgressFn | None, total_in: int) -> bool:  # fmt: skip
    """Add every part from the resume point on; True when stopped at ``max_bytes``."""
    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    start = (run.state["tasks_done"], run.state["parts_done"])
    parts = _parts(tasks, opts, start, writer.partial / ".bitlab-spool")
    try:
        for i, k, last, part in parts:
            capped = run.add(writer, tasks[i], k, last, part, opts.max_bytes)
            if delay:  # tests: a kill here finds chunks written past the last checkpoint
                time.sleep(delay)
            if writer.checkpoint_due():
                writer.checkpoint(run.state)
            _report(progress, run, opts, total_in)
            if capped:
                return True
    finally:
        parts.close()  # type: ignore[attr-defined]  # stops the readers when the run ends early
    return False


def _result(out: Any, summary: CorpusSummary, run: _Run, files: list[InputFile],
            skipped: list[SkippedFile], opts: PrepareOptions, t0: float, doc_bytes: int,
            capped: bool, resumed: bool, unchanged: bool) -> dict[str, Any]:  # fmt: skip
    seconds = time.perf_counter() - t0
    return {
        "out": str(Path(out)),
        "docs": summary.docs,
        "bytes": summary.bytes,
        "total_docs": summary.num_docs,
        "total_bytes": summary.num_bytes,
        "duplicates_removed": summary.duplicates_removed,
        "skipped_empty": run.state["skipped_empty"],
        "skipped_binary_files": [{"path": s.path, "size": s.size} for s in skipped],
        "input_files": len(files) + len(skipped),
        "input_bytes": sum(f.size for f in files) + sum(s.size for s in skipped),
        "capped_at_max_bytes": capped,
        "resumed": resumed,
        "unchanged": unchanged,
        "seconds": seconds,
        "mb_per_s": doc_bytes / 1e6 / seconds if seconds > 0 and doc_bytes else None,
        "options": {k: v for k, v in asdict(opts).items() if k in _SUMMARY_OPTIONS},
    }


def _empty_message(
    inputs: list[str], opts: PrepareOptions, state: dict[str, Any], skipped: list[SkippedFile]
) -> tuple[str, str]:
    what = (
        f"the built-in corpus {opts.builtin}"
        if opts.builtin
        else ", ".join(inputs[:3]) + (" ..." if len(inputs) > 3 else "")
    )
    why = []
    if state["skipped_empty"]:
        why.append(f"{state['skipped_empty']} empty or whitespace-only documents skipped")
    if skipped:
        names = ", ".join(s.path for s in skipped[:3]) + (" ..." if len(skipped) > 3 else "")
        why.append(f"{len(skipped)} binary files skipped: {names}")
    detail = f" ({'; '.join(why)})" if why else ""
    return f"the inputs hold no documents: {what}{detail}", "give files with text in them"
