"""Reading tasks in reader processes, streaming their parts back in task order.

Readers are spawned processes (never forked: DESIGN.md's Numba lesson) that take tasks from a
queue in order and stream each task's parts (``readers.iter_parts``) through spool files that the
main process memory-maps (a file read through mmap costs the main process far less than bytes
sent through a pipe). The main process consumes parts strictly in (task, part) order, so the
store never depends on the number of readers. Memory and disk stay bounded: each reader may
have at most ``PARTS_AHEAD`` parts written and not yet consumed (one semaphore per reader, so a
reader that ran ahead never blocks the one the main process waits for).
"""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing
import os
import queue
import shutil
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bitcodec.corpus_format import DIGEST_SIZE
from bitcodec.errors import BitcodecError
from bitcodec.ingest_split import ReadOptions
from bitcodec.parts import Part, empty_part
from bitcodec.readers import iter_parts
from bitcodec.sources import Task

PARTS_AHEAD = 2
_POLL_S = 0.5

PartItem = tuple[int, int, bool, Part]  # (task index, part index, last part of its task, part)


def numbered(parts: Iterator[Part]) -> Iterator[tuple[int, bool, Part]]:
    """(index, is_last, part) of a task's parts (one look-ahead)."""
    prev: Part | None = None
    k = 0
    for part in parts:
        if prev is not None:
            yield k - 1, False, prev
        prev = part
        k += 1
    yield k - 1, True, prev if prev is not None else empty_part()


def run_in_process(
    tasks: list[Task], opts: ReadOptions, start: tuple[int, int] = (0, 0)
) -> Iterator[PartItem]:
    """All parts from ``start`` (task, part) on, read in this process."""
    first_task, first_part = start
    for i in range(first_task, len(tasks)):
        skip = first_part if i == first_task else 0
        for k, last, part in numbered(iter_parts(tasks[i], opts)):
            if k >= skip:
                yield i, k, last, part
            elif last:  # fewer parts than the checkpoint says were done: the task is over
                yield i, skip, True, empty_part()


def _write_spool(path: str, part: Part) -> tuple[str, int, int, int]:
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(part.data)
        fh.write(np.ascontiguousarray(part.lengths, dtype=np.int64).tobytes())
        fh.write(part.digests)
    os.replace(tmp, path)
    return path, part.num_docs, part.num_bytes, part.skipped_empty


def _reader_main(
    wid: int, tasks: Any, results: Any, permits: Any, spool_dir: str, opts: ReadOptions
) -> None:
    """A reader process: parts of each task it takes, until the ``None`` sentinel."""
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    while True:
        item = tasks.get()
        if item is None:
            return
        i, task, skip = item
        try:
            for k, last, part in numbered(iter_parts(task, opts)):
                if k < skip and not last:
                    continue
                permits.acquire()
                if k < skip:  # fewer parts than the checkpoint says were done: the task is over
                    results.put(("part", wid, i, skip, True, None))
                    continue
                meta = _write_spool(os.path.join(spool_dir, f"{i}-{k}.bin"), part)
                results.put(("part", wid, i, k, last, meta))
        except BitcodecError as exc:
            results.put(("error", wid, i, exc))
            return
        except BaseException:  # an internal error: report it, with where it happened
            results.put(("crash", wid, i, traceback.format_exc()))
            return


def _load(meta: tuple[str, int, int, int] | None) -> tuple[Part, Any]:
    """The part a reader spooled (its bytes memory-mapped), and the map to close after."""
    if meta is None:
        return empty_part(), None
    path, n_docs, n_bytes, skipped = meta
    size = os.path.getsize(path)
    if size == 0:
        os.unlink(path)
        return empty_part(skipped), None
    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ)
    os.unlink(path)  # the map keeps the pages; nothing is left behind
    view = memoryview(mapped)
    lengths = np.frombuffer(mapped, np.int64, count=n_docs, offset=n_bytes).copy()
    digests = bytes(view[n_bytes + 8 * n_docs : n_bytes + (8 + DIGEST_SIZE) * n_docs])
    return Part(view[:n_bytes], lengths, digests, skipped), (mapped, view)


def _release(part: Part, handle: Any) -> None:
    if isinstance(part.data, memoryview):
        part.data.release()
    part.data = b""
    if handle is not None:
        mapped, view = handle
        view.release()
        with contextlib.suppress(BufferError):  # a view still alive: closed when collected
            mapped.close()


def _died(proc: Any) -> BitcodecError:
    how = f"killed by signal {-proc.exitcode}" if proc.exitcode < 0 else f"exit {proc.exitcode}"
    return BitcodecError(
        f"a reader process died ({how}; out of memory?)",
        "rerun with resume=True and fewer workers=",
    )


def run_in_readers(
    tasks: list[Task],
    opts: ReadOptions,
    workers: int,
    spool_dir: Path,
    start: tuple[int, int] = (0, 0),
) -> Iterator[PartItem]:
    """All parts from ``start`` on, read by ``workers`` spawned reader processes."""
    first_task, first_part = start
    shutil.rmtree(spool_dir, ignore_errors=True)
    spool_dir.mkdir(parents=True)
    ctx = multiprocessing.get_context("spawn")
    task_queue, results = ctx.Queue(), ctx.Queue()
    for i in range(first_task, len(tasks)):
        task_queue.put((i, tasks[i], first_part if i == first_task else 0))
    permits = [ctx.Semaphore(PARTS_AHEAD) for _ in range(workers)]
    procs = [
        ctx.Process(
            target=_reader_main,
            args=(w, task_queue, results, permits[w], str(spool_dir), opts),
            daemon=True,
        )
        for w in range(workers)
    ]
    for _ in procs:
        task_queue.put(None)
    try:
        for p in procs:
            p.start()
        ready: dict[tuple[int, int], tuple[int, bool, Any]] = {}
        i, k = first_task, first_part
        while i < len(tasks):
            while (i, k) not in ready:
                try:
                    msg = results.get(timeout=_POLL_S)
                except queue.Empty:
                    for p in procs:
                        if p.exitcode not in (None, 0):
                            raise _died(p) from None
                    if all(p.exitcode is not None for p in procs):
                        raise RuntimeError(
                            f"the readers stopped before part {k} of task {i}"
                        ) from None
                    continue
                if msg[0] == "part":
                    ready[(msg[2], msg[3])] = (msg[1], msg[4], msg[5])
                elif msg[0] == "error":
                    raise msg[3]
                else:
                    raise RuntimeError(
                        f"a reader process failed on '{tasks[msg[2]].file.name}':\n{msg[3]}"
                    )
            wid, last, meta = ready.pop((i, k))
            part, handle = _load(meta)
            try:
                yield i, k, last, part
            finally:
                _release(part, handle)
                permits[wid].release()
            i, k = (i + 1, 0) if last else (i, k + 1)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=10)
        for q in (task_queue, results):
            q.cancel_join_thread()
            q.close()
        shutil.rmtree(spool_dir, ignore_errors=True)
