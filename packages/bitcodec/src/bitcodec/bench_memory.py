"""`bitlab bench corpus-memory`: peak memory of prepare-corpus on one multi-GB .jsonl.zst.

The input is written here, streaming (never held in memory): JSON lines of generated
paragraphs (about 2 kB each, as in ``bench_corpus``), zstd level 3, ``total_gb`` GB of
uncompressed JSON lines in ONE file, so that the whole file is one task that readers must
stream. prepare-corpus runs in a child process with 2 readers; the resident memory (VmRSS) of
the child and all its descendants is sampled every 0.1 s from /proc and summed. The reference
is ``zstd -dc`` of the same file into /dev/null, sampled the same way (its own window, nothing
else). Everything is written to a temporary folder that is removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import zstandard

from bitcodec.bench_corpus import _paragraphs

_CHILD = """
import json, sys
from bitcodec.ingest import PrepareOptions, prepare_corpus
r = prepare_corpus([sys.argv[1]], sys.argv[2], PrepareOptions(workers=2, val_fraction=0.01))
print(json.dumps({k: r[k] for k in ("total_bytes", "total_docs", "seconds", "mb_per_s")}))
"""


def _tree_rss(pid: int) -> int:
    """Bytes resident in ``pid`` and its descendants (Linux /proc), 0 when it is gone."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, todo = set(), [pid]
    while todo:
        p = todo.pop()
        tree.add(p)
        todo += [c for c, pp in parents.items() if pp == p and c not in tree]
    total = 0
    for p in tree:
        try:
            with open(f"/proc/{p}/status", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def _run_sampled(argv: list[str], stdout: Any) -> tuple[int, float, subprocess.CompletedProcess]:
    """(peak tree RSS in bytes, wall seconds, the finished process)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, text=stdout is not None)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.1)
    out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed in the memory benchmark: {err}")
    return peak, seconds, subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _write_input(path: Path, total_bytes: int) -> int:
    """Write about ``total_bytes`` of JSON lines, zstd-compressed; returns the bytes written."""

    paragraphs = _paragraphs(32 << 20, np.random.default_rng(0))
    written = 0
    with open(path, "wb") as fh, zstandard.ZstdCompressor(level=3).stream_writer(fh) as w:
        i = 0
        while written < total_bytes:
            block = "".join(json.dumps({"id": i + j, "text": p.decode()}) + "\n"
                            for j, p in enumerate(paragraphs)).encode()  # fmt: skip
            i += len(paragraphs)
            w.write(block)
            written += len(block)
    return written


def corpus_memory_bench(quick: bool = False, total_gb: float = 3.0) -> dict[str, Any]:
    """Peak RSS of prepare-corpus on one big .jsonl.zst (``quick``: 256 MB instead)."""
    total = (256 << 20) if quick else int(total_gb * 1e9)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bitlab-bench-memory-") as tmp:
        src = Path(tmp) / "big.jsonl.zst"
        written = _write_input(src, total)
        notes = [f"input: one {src.stat().st_size / 1e9:.2f} GB .jsonl.zst holding "
                 f"{written / 1e9:.2f} GB of JSON lines"]  # fmt: skip
        peak, seconds, done = _run_sampled(
            [sys.executable, "-c", _CHILD, str(src), str(Path(tmp) / "out.zarr")],
            subprocess.PIPE,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        ref_peak = 0
        if shutil.which("zstd"):
            ref_peak, _, _ = _run_sampled(["zstd", "-dc", str(src), "-o", os.devnull, "-f"], None)
        rows.append({"case": f"one .jsonl.zst of {written / 1e9:.1f} GB", "metric":
                     "prepare-corpus peak RSS (main + 2 readers)", "value": peak / 1e6,
                     "unit": "MB", "reference": ref_peak / 1e6 or None,
                     "ratio": peak / ref_peak if ref_peak else None,
                     "target": "<= 1000 MB", "met": peak <= 1e9})  # fmt: skip
        rows.append({"case": f"one .jsonl.zst of {written / 1e9:.1f} GB", "metric":
                     "peak RSS / uncompressed input", "value": peak / written, "unit": "x",
                     "reference": None, "ratio": None, "target": None, "met": None})  # fmt: skip
        notes.append(f"{result['total_bytes'] / 1e6:,.0f} MB of documents "
                     f"({result['total_docs']:,} docs) in {seconds:.0f} s wall, "
                     f"{result['mb_per_s']:.1f} MB/s; reference: zstd -dc of the same file; "
                     f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    return {"name": "corpus-memory", "rows": rows, "notes": notes}
