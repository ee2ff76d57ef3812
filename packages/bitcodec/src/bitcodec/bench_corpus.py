"""`bitlab bench corpus`: prepare-corpus throughput and random-window reads.

- prepare-corpus MB/s of document text with 2 workers, wall clock, for plain text (.txt files
  split on blank lines; target at least 100 MB/s) and for .jsonl.zst (at least 60 MB/s); the
  reference is ``cat`` (resp. ``zstd -dc``) of the same files to /dev/null in the same run, which
  shows what the machine gives at that moment (it is shared: absolute speeds swing with load).
- random 512-byte windows per second from the store (``CorpusSplit.sample_windows``, which
  serves them from the local uncompressed cache) against ``numpy.memmap`` fancy indexing on
  the same raw bytes, run in the same process; target at least 0.3x. For scale, per-window
  reads straight from zarr are measured too.

The input is generated: words drawn by their frequency in tiny Shakespeare (when ../shared/data
is present, else a synthetic Zipf vocabulary), in paragraphs of about 2 kB, so that it
compresses like real prose rather than like a repeated file.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import zstandard

from bitcodec.corpus_reader import open_corpus
from bitcodec.ingest import PrepareOptions, prepare_corpus

WINDOW = 512
_SHAKESPEARE = Path("english_tinyshakespeare") / "input.txt"


def _vocabulary(rng: np.random.Generator) -> tuple[list[bytes], np.ndarray, str]:
    """(words, probabilities, where they came from)."""
    env = os.environ.get("BITLAB_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[4].parent / "shared" / "data")
    for base in candidates:
        path = base / _SHAKESPEARE
        if path.is_file():
            words = re.findall(rb"\S+", path.read_bytes())
            uniq, counts = np.unique(
                np.array(words, dtype=object).astype(bytes), return_counts=True
            )
            return (
                [bytes(w) for w in uniq],
                counts / counts.sum(),
                "tiny Shakespeare word frequencies",
            )
    letters = np.frombuffer(b"etaoinshrdlucmfwypvbgkjqxz", dtype=np.uint8)
    words = [letters[rng.integers(0, 26, rng.integers(1, 10))].tobytes() for _ in range(20000)]
    ranks = np.arange(1, len(words) + 1)
    return words, (1 / ranks) / (1 / ranks).sum(), "a synthetic Zipf vocabulary"


def _paragraphs(total_bytes: int, rng: np.random.Generator) -> list[bytes]:
    words, probs, _ = _vocabulary(rng)
    mean_len = float(np.dot(probs, [len(w) + 1 for w in words]))
    n_words = int(total_bytes / mean_len) + 1
    ids = rng.choice(len(words), size=n_words, p=probs)
    cuts = np.cumsum(rng.integers(200, 500, size=n_words // 200 + 2))  # ~350 words/paragraph
    cuts = cuts[cuts < n_words]
    tokens = np.array(words, dtype=object)[ids]  # [n_words] the text, word by word
    bounds = zip(np.r_[0, cuts], np.r_[cuts, n_words], strict=True)
    return [b" ".join(tokens[a:b].tolist()) for a, b in bounds]


def _write_inputs(folder: Path, paragraphs: list[bytes], files: int) -> tuple[Path, Path]:
    text_dir, jsonl_dir = folder / "text", folder / "jsonl"
    text_dir.mkdir()
    jsonl_dir.mkdir()
    per_file = -(-len(paragraphs) // files)
    compressor = zstandard.ZstdCompressor(level=3)
    for i in range(files):
        part = paragraphs[i * per_file : (i + 1) * per_file]
        (text_dir / f"part-{i:03d}.txt").write_bytes(b"\n\n".join(part) + b"\n")
        lines = (
            json.dumps({"id": i * per_file + j, "text": p.decode()}) for j, p in enumerate(part)
        )
        data = ("\n".join(lines) + "\n").encode()
        (jsonl_dir / f"part-{i:03d}.jsonl.zst").write_bytes(compressor.compress(data))
    return text_dir, jsonl_dir


def reference_seconds(argv: list[str], files: list[Path]) -> tuple[float, str]:
    """Wall seconds of ``argv + files`` writing to /dev/null (``cat``, ``zstd -dc``): the same
    input read by a plain tool in the same run, which says what the machine gives right now.
    Without the tool, the same reading is done in Python (and the label says so)."""
    if shutil.which(argv[0]):
        t0 = time.perf_counter()
        subprocess.run([*argv, *map(str, files)], stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - t0, " ".join(argv)

    t0 = time.perf_counter()
    for f in files:
        with open(f, "rb") as fh:
            stream = zstandard.ZstdDecompressor().stream_reader(fh) if "-dc" in argv else fh
            while stream.read(1 << 20):
                pass
    return time.perf_counter() - t0, f"Python reading (no {argv[0]} on PATH)"


def _cpu_seconds() -> tuple[float, float]:
    """(CPU seconds of this process, of its finished child processes)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def _decompressed(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return zstandard.ZstdDecompressor().stream_reader(fh).read()


def _windows_per_s(fn, seconds: float) -> float:
    fn()  # warm up
    n = 0
    t0 = time.perf_counter()
    while True:
        n += fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return n / elapsed


def _row(case: str, metric: str, value: float, unit: str, reference: float | None = None,
         target: str | None = None, met: bool | None = None) -> dict[str, Any]:  # fmt: skip
    ratio = value / reference if reference else None
    return {"case": case, "metric": metric, "value": value, "unit": unit, "reference": reference,
            "ratio": ratio, "target": target, "met": met}  # fmt: skip


def corpus_bench(quick: bool = False) -> dict[str, Any]:
    """Run the corpus benchmarks; ``quick`` uses a few MB (seconds) instead of 256 MB."""
    total = (4 << 20) if quick else (256 << 20)
    files = 4 if quick else 32
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bitlab-bench-corpus-") as tmp:
        folder = Path(tmp)
        paragraphs = _paragraphs(total, rng)
        notes.append(f"input: {sum(map(len, paragraphs)) / 1e6:.0f} MB of generated paragraphs "
                     f"({_vocabulary(rng)[2]}), {files} files per format")  # fmt: skip
        text_dir, jsonl_dir = _write_inputs(folder, paragraphs, files)
        del paragraphs
        opts = {"workers": 2, "parallel_min_bytes": 0, "val_fraction": 0.01}
        for case, inputs, extra, tool, target in (
            ("plain text (.txt, blank-line)", text_dir, {"split_on": "blank-line"}, ["cat"], 100),
            (".jsonl.zst", jsonl_dir, {}, ["zstd", "-dc"], 60),
        ):
            out = folder / f"store-{case[:5].strip('(.')}.zarr"
            files_in = sorted(inputs.iterdir())
            ref_s, ref_name = reference_seconds(tool, files_in)
            cpu0 = _cpu_seconds()
            result = prepare_corpus([str(inputs)], out, PrepareOptions(**opts, **extra))
            main_s, workers_s = (b - a for a, b in zip(cpu0, _cpu_seconds(), strict=True))
            speed = result["mb_per_s"]
            ref_mb = sum(f.stat().st_size for f in files_in) / 1e6 if tool == ["cat"] else None
            if ref_mb is None:  # zstd -dc writes the decompressed JSON lines
                ref_mb = sum(len(_decompressed(f)) for f in files_in) / 1e6
            rows.append(_row(case, f"prepare-corpus (wall clock) vs {ref_name}", speed, "MB/s",
                             ref_mb / ref_s, f">= {target} MB/s", speed >= target))  # fmt: skip
            # What two free cores would give: CPU time of main + workers spread over 2 cores,
            # but never faster than the (serial) main process alone.
            mb = result["total_bytes"] / 1e6
            estimate = min(2 * mb / (main_s + workers_s), mb / main_s) if main_s > 0 else 0.0
            rows.append(_row(case, "prepare-corpus (CPU time, 2 free cores)", estimate, "MB/s"))
            notes.append(
                f"{case}: {mb:.0f} MB of documents in {result['seconds']:.1f} s wall; CPU "
                f"{1000 * main_s / mb:.1f} ms/MB main + {1000 * workers_s / mb:.1f} ms/MB workers; "
                f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            )
        corpus = open_corpus(
            folder / "store-plain.zarr", cache_dir=folder / "cache", memory_limit=0
        )
        split = corpus.train
        t0 = time.perf_counter()
        split.data()
        cache_s = time.perf_counter() - t0
        notes.append(f"window cache of {split.num_bytes / 1e6:.0f} MB built in {cache_s:.2f} s "
                     "on first use")  # fmt: skip
        raw_path = folder / "raw.u8"
        raw_path.write_bytes(split.data().tobytes())
        mm = np.memmap(raw_path, dtype=np.uint8, mode="r")
        batch = 256
        high = split.num_bytes - WINDOW + 1
        ar = np.arange(WINDOW)
        seconds = 0.5 if quick else 3.0
        win_rng = np.random.default_rng(1)

        def memmap_batch() -> int:
            starts = win_rng.integers(0, high, size=batch)
            mm[starts[:, None] + ar]
            return batch

        def store_batch() -> int:
            split.sample_windows(batch, WINDOW, win_rng)
            return batch

        reference = _windows_per_s(memmap_batch, seconds)
        ours = _windows_per_s(store_batch, seconds)
        rows.append(_row("random 512-byte windows", "sample_windows", ours, "windows/s", reference,
                         ">= 0.3x memmap", ours / reference >= 0.3))  # fmt: skip
        zarr_bytes = split._bytes_arr

        def zarr_one() -> int:
            start = int(win_rng.integers(0, high))
            zarr_bytes[start : start + WINDOW]
            return 1

        direct = _windows_per_s(zarr_one, 0.3 if quick else 1.5)
        rows.append(_row("random 512-byte windows", "zarr read per window (for scale)", direct,
                         "windows/s", reference))  # fmt: skip
    return {"name": "corpus", "rows": rows, "notes": notes}
