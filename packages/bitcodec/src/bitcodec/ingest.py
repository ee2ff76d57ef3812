"""prepare_corpus: inputs -> documents (parallel workers) -> CorpusWriter, resumable.

Workers are spawned processes (never forked: DESIGN.md's Numba lesson); each reads one task
(a file, or a piece of a big file) and returns its documents in order, with their digests, so
the output does not depend on the number of workers. The main process adds the results in
task order and checkpoints between tasks; ``resume=True`` continues after the last checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import mmap
import multiprocessing
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bitcodec.corpus_format import DEFAULT_CHUNK_BYTES, DEFAULT_ZSTD_LEVEL, DIGEST_SIZE
from bitcodec.corpus_writer import CorpusWriter
from bitcodec.errors import BitcodecError
from bitcodec.ingest_split import SplitOptions
from bitcodec.sources import (
    PIECE_BYTES,
    InputFile,
    Task,
    TaskResult,
    expand_inputs,
    make_tasks,
    read_task,
    read_task_to_spool,
)

log = logging.getLogger(__name__)

# Tests only: seconds to sleep after each task, so that a run can be killed in the middle.
DELAY_ENV = "BITCODEC_INGEST_TASK_DELAY_S"

ProgressFn = Callable[[int, int, int], None]  # (input bytes done, input bytes total, docs)


@dataclass(frozen=True)
class PrepareOptions:
    """How prepare_corpus reads its inputs and writes the store."""

    split_on: str = "file"
    field: str = "text"
    strict_utf8: bool = False
    val_fraction: float = 0.01
    dedup: bool = False
    workers: int = 0  # 0: one per CPU core
    max_bytes: int | None = None  # stop after this many document bytes (a deterministic prefix)
    builtin: str | None = None  # "pydocs": no inputs needed
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    zstd_level: int = DEFAULT_ZSTD_LEVEL
    checkpoint_every_s: float = 10.0
    piece_bytes: int = PIECE_BYTES
    parallel_min_bytes: int = 8 << 20  # smaller inputs are read in this process (no spawn cost)

    def __post_init__(self) -> None:
        self.split_options()  # validates split_on and field early

    def split_options(self) -> SplitOptions:
        return SplitOptions(self.split_on, self.field, self.strict_utf8)


def _inputs_digest(files: list[InputFile]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for f in files:
        h.update(json.dumps([f.path, f.size, f.mtime_ns, f.kind, f.compression]).encode())
        if f.data is not None:
            h.update(hashlib.blake2b(f.data, digest_size=16).digest())
    return h.hexdigest()


def _pool_initializer() -> None:
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")


def _load_spool(result: TaskResult) -> tuple[TaskResult, Any]:
    """Map a worker's spool file; returns the result with ``data`` set, and the map."""
    path = result.spool
    assert path is not None
    size = os.path.getsize(path)
    if size == 0:
        os.unlink(path)
        result.data = b""
        return result, None
    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ)
    os.unlink(path)  # the map keeps the pages; nothing is left behind
    result.data = memoryview(mapped)
    return result, mapped


def _release(result: TaskResult, mapped: Any) -> None:
    if isinstance(result.data, memoryview):
        result.data.release()
    result.data = b""
    if mapped is not None:
        with contextlib.suppress(BufferError):  # a view still alive: closed when collected
            mapped.close()


def _run_tasks(
    tasks: list[Task], opts: PrepareOptions, workers: int, spool_dir: Path
) -> Iterator[TaskResult]:
    """Results of ``tasks`` in order; up to 2 tasks per worker in flight (bounded memory)."""
    split_options = opts.split_options()
    total = sum(t.input_bytes for t in tasks)
    if workers <= 1 or len(tasks) <= 1 or total < opts.parallel_min_bytes:
        for task in tasks:
            yield read_task(task, split_options)
        return
    shutil.rmtree(spool_dir, ignore_errors=True)
    spool_dir.mkdir(parents=True)
    ctx = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_pool_initializer)
    counter = itertools.count()

    def submit(task: Task) -> Future:
        spool = str(spool_dir / f"{next(counter)}.bin")
        return executor.submit(read_task_to_spool, task, split_options, spool)

    try:
        todo = iter(tasks)
        pending: deque[Future] = deque(submit(t) for t in itertools.islice(todo, 2 * workers))
        while pending:
            try:
                result, mapped = _load_spool(pending.popleft().result())
            except BrokenProcessPool:
                raise BitcodecError(
                    "a reader process died (out of memory?): rerun with --resume and fewer "
                    "--workers"
                ) from None
            for task in itertools.islice(todo, 1):
                pending.append(submit(task))
            try:
                yield result
            finally:
                _release(result, mapped)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(spool_dir, ignore_errors=True)


def _take_prefix(result: TaskResult, budget: int) -> TaskResult:
    """The documents of ``result`` that fit in ``budget`` bytes (whole documents only)."""
    ends = np.cumsum(result.lengths)
    n = int(np.searchsorted(ends, budget, side="right"))
    nbytes = int(ends[n - 1]) if n else 0
    return TaskResult(
        result.data[:nbytes],
        result.lengths[:n],
        result.digests[: n * DIGEST_SIZE],
        result.skipped_empty,
    )


def _add_result(
    writer: CorpusWriter,
    task: Task,
    result: TaskResult,
    state: dict[str, Any],
    max_bytes: int | None,
) -> bool:
    """Add one task's documents; returns True when ``max_bytes`` is reached."""
    capped = False
    if max_bytes is not None and state["doc_bytes_read"] + len(result.data) >= max_bytes:
        result = _take_prefix(result, max_bytes - state["doc_bytes_read"])
        capped = True
    source = "<stdin>" if task.file.path == "-" else task.file.path
    writer.add_many(result.data, result.lengths, result.digests, source=source)
    state["tasks_done"] += 1
    state["input_bytes"] += task.input_bytes
    state["doc_bytes_read"] += len(result.data)
    state["docs_read"] += result.num_docs
    state["skipped_empty"] += result.skipped_empty
    state["skipped_binary"] += int(result.skipped_binary)
    return capped


def plan_inputs(
    inputs: list[str], opts: PrepareOptions, stdin_data: bytes | None = None
) -> list[InputFile]:
    """The input files of a run (its ``--builtin`` corpus, or the expanded ``inputs``)."""
    if opts.builtin:
        if inputs:
            raise BitcodecError("--builtin takes no inputs: drop the inputs or drop --builtin")
        from bitcodec.builtin_corpus import builtin_files

        return builtin_files(opts.builtin)
    return expand_inputs(inputs, stdin_data)


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
    if opts.max_bytes is not None and opts.max_bytes < 1:
        raise BitcodecError(f"--max-bytes must be positive, got {opts.max_bytes}")
    t0 = time.perf_counter()
    files = plan_inputs(inputs, opts, stdin_data)
    tasks = make_tasks(files, opts.split_on, opts.piece_bytes)
    total_in = sum(t.input_bytes for t in tasks)
    if opts.max_bytes is not None and opts.builtin:
        total_in = min(total_in, opts.max_bytes)
    workers = opts.workers or os.cpu_count() or 1
    settings = {
        "split_on": opts.split_on,
        "field": opts.field,
        "strict_utf8": opts.strict_utf8,
        "max_bytes": opts.max_bytes,
        "builtin": opts.builtin,
        "inputs": _inputs_digest(files),
    }
    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    writer = CorpusWriter(
        out,
        val_fraction=opts.val_fraction,
        overwrite=overwrite,
        resume=resume,
        dedup=opts.dedup,
        options=settings,
        chunk_bytes=opts.chunk_bytes,
        zstd_level=opts.zstd_level,
        checkpoint_every_s=opts.checkpoint_every_s,
    )
    with writer:
        state = {"tasks_done": 0, "input_bytes": 0, "doc_bytes_read": 0, "docs_read": 0,
                 "skipped_empty": 0, "skipped_binary": 0}  # fmt: skip
        if writer.resumed:
            state.update(writer.resume_state)
        start = state["tasks_done"]
        read_at_start = state["doc_bytes_read"]
        for f in files:
            if f.path != "-":
                writer.note_source(f.path, size=f.size, mtime_ns=f.mtime_ns, format=f.kind)
        if progress:
            progress(state["input_bytes"], total_in, state["docs_read"])
        capped = opts.max_bytes is not None and state["doc_bytes_read"] >= opts.max_bytes
        spool = writer.partial / ".bitlab-spool"
        results = _run_tasks([] if capped else tasks[start:], opts, workers, spool)
        try:
            for i, result in enumerate(results, start=start):
                capped = _add_result(writer, tasks[i], result, state, opts.max_bytes)
                if delay:  # tests: a kill here finds chunks written past the last checkpoint
                    time.sleep(delay)
                if writer.checkpoint_due():
                    writer.checkpoint(state)
                if progress:
                    done = state["doc_bytes_read"] if opts.builtin else state["input_bytes"]
                    progress(done, total_in, state["docs_read"])
                if capped:
                    break
        finally:
            results.close()  # stops the workers when the run ends early
        if state["docs_read"] == 0:
            raise BitcodecError(_empty_message(inputs, opts, state))
        writer.checkpoint(state)
        summary = writer.close()
    seconds = time.perf_counter() - t0
    doc_bytes = state["doc_bytes_read"] - read_at_start
    return {
        "out": str(Path(out)),
        "docs": summary.docs,
        "bytes": summary.bytes,
        "total_docs": summary.num_docs,
        "total_bytes": summary.num_bytes,
        "duplicates_removed": summary.duplicates_removed,
        "skipped_empty": state["skipped_empty"],
        "skipped_binary_files": state["skipped_binary"],
        "input_files": len(files),
        "input_bytes": sum(f.size for f in files),
        "capped_at_max_bytes": capped,
        "resumed": writer.resumed,
        "seconds": seconds,
        "mb_per_s": doc_bytes / 1e6 / seconds if seconds > 0 else None,
        "options": {
            k: v
            for k, v in asdict(opts).items()
            if k
            in ("split_on", "field", "val_fraction", "dedup", "strict_utf8", "max_bytes", "builtin")
        },
    }


def _empty_message(inputs: list[str], opts: PrepareOptions, state: dict[str, Any]) -> str:
    what = (
        f"--builtin {opts.builtin}"
        if opts.builtin
        else ", ".join(inputs[:3]) + (" ..." if len(inputs) > 3 else "")
    )
    why = []
    if state["skipped_empty"]:
        why.append(f"{state['skipped_empty']} empty or whitespace-only documents skipped")
    if state["skipped_binary"]:
        why.append(f"{state['skipped_binary']} binary files skipped")
    detail = f" ({'; '.join(why)})" if why else ""
    return f"the inputs hold no documents: {what}{detail}: give files with text in them"
