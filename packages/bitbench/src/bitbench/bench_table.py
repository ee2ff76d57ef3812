"""`bitlab bench table`: the encoding table against a byte-level BPE of the same vocabulary.

For English (tiny Shakespeare) and Chinese (SIGHAN 2005 PKU, spaces removed) a table is grown
on the first 90% of the text from model-free boundaries and measured on the held-out rest;
the BPE (Hugging Face `tokenizers`, bitbaselines.bpe) is trained on the same 90% with
exactly the table level's vocabulary size (256 bytes + patterns of levels 1..k) and measured
on the same held-out text. Boundary sources:

- en / whitespace: whitespace word starts (no annotation; DESIGN's gold for English).
- en / punctuation: whitespace word starts plus letter/digit/symbol changes (no annotation).
- zh / gold: the PKU gold segmentation -- an upper reference a model can only approach.
- zh / branching-entropy: scores from the text itself (no annotation), top-k cut at the
  table's default 6 bytes per unit on average.

Speed rows compare encode/decode throughput with the Rust BPE in the same process.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bitbaselines.bpe import NUM_SPECIAL, train_reference_bpe
from bitswin.bench_rows import bench_row, best_seconds
from enctable import AdaptiveEncodingTable
from enctable.priors import (
    branching_entropy_scores,
    punctuation_starts,
    segmented_starts,
    text_batches,
    whitespace_starts,
)

from bitbench.compression import bpe_stats, table_level_stats

ROW_LEN = 1024
ROWS_PER_BATCH = 64
HELD_OUT = 0.1


@dataclass(frozen=True)
class Source:
    name: str
    scores: np.ndarray  # float64 per byte of the train text
    options: dict[str, Any]  # TableConfig options (threshold or top-k)


@dataclass(frozen=True)
class Corpus:
    name: str
    train: bytes
    held_out: bytes
    sources: tuple[Source, ...]


def _shared_data() -> Path | None:
    env = os.environ.get("BITLAB_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[4].parent / "shared" / "data")
    return next((p for p in candidates if p.is_dir()), None)


def _split_lines(lines: list[bytes]) -> tuple[bytes, bytes]:
    cut = int(len(lines) * (1 - HELD_OUT))
    return b"".join(lines[:cut]), b"".join(lines[cut:])


def _english(text: bytes) -> Corpus:
    train, held = _split_lines(text.splitlines(keepends=True))
    arr = np.frombuffer(train, np.uint8)
    threshold = {"boundary_threshold": 0.5}
    return Corpus(
        "en",
        train,
        held,
        (
            Source("whitespace", whitespace_starts(arr).astype(np.float64), threshold),
            Source("punctuation", punctuation_starts(arr).astype(np.float64), threshold),
        ),
    )


def _chinese(lines: list[list[str]]) -> Corpus:
    cut = int(len(lines) * (1 - HELD_OUT))
    train, gold = segmented_starts(lines[:cut])
    held, _ = segmented_starts(lines[cut:])
    be = branching_entropy_scores(train.decode("utf-8"))
    return Corpus(
        "zh",
        train,
        held,
        (
            Source("gold", gold.astype(np.float64), {"boundary_threshold": 0.5}),
            Source("branching-entropy", be, {}),  # top-k at the default 6 bytes per unit
        ),
    )


def _generated_english(n_words: int) -> bytes:
    rnd = random.Random(0)
    syll = ["ka", "lo", "mi", "ne", "ru", "ta", "so", "vi", "de", "po", "an", "el"]
    vocab = list(
        dict.fromkeys(
            "".join(rnd.choice(syll) for _ in range(rnd.randint(1, 3))) for _ in range(800)
        )
    )
    words = rnd.choices(vocab, weights=[1.0 / (r + 1) for r in range(len(vocab))], k=n_words)
    return "".join(w + ("\n" if i % 12 == 11 else " ") for i, w in enumerate(words)).encode()


def _corpora(quick: bool, notes: list[str]) -> list[Corpus]:
    base = _shared_data()
    out = []
    shakespeare = None if base is None else base / "english_tinyshakespeare" / "input.txt"
    if shakespeare is not None and shakespeare.is_file():
        text = shakespeare.read_bytes()
        out.append(_english(text[:200_000] if quick else text))
    else:
        notes.append("tiny Shakespeare absent (../shared/data): English rows use generated text")
        out.append(_english(_generated_english(20_000 if quick else 200_000)))
    pku = None if base is None else base / "cws_sighan2005_pku"
    if quick:
        return out
    if pku is not None and pku.is_dir():
        lines = []
        for name in ("pku_training_first1000lines.utf8", "pku_test_gold.utf8"):
            text = (pku / name).read_text(encoding="utf-8")
            lines += [line.split() for line in text.splitlines() if line.strip()]
        out.append(_chinese(lines))
    else:
        notes.append("PKU (../shared/data/cws_sighan2005_pku) absent: Chinese rows skipped")
    return out


def _grow(corpus: Corpus, source: Source, max_size: int) -> tuple[Any, float]:
    table = AdaptiveEncodingTable(levels=3, max_size=max_size, **source.options)
    t0 = time.perf_counter()
    for x, s in text_batches(corpus.train, source.scores, ROW_LEN, ROWS_PER_BATCH):
        table.update_tables(x, s)
    return table, len(corpus.train) / 1e6 / (time.perf_counter() - t0)


def _chunks(data: bytes, size: int = 4096) -> list[bytes]:
    """Held-out text in pieces that end at line ends (valid UTF-8 for the BPE)."""
    out, cur = [], []
    n = 0
    for line in data.splitlines(keepends=True):
        cur.append(line)
        n += len(line)
        if n >= size:
            out.append(b"".join(cur))
            cur, n = [], 0
    if cur:
        out.append(b"".join(cur))
    return out


def _mb_per_s(fn: Callable[[], Any], n_bytes: int, repeat: int = 3) -> float:
    return n_bytes / 1e6 / best_seconds(fn, repeat)[0]


def table_bench(quick: bool) -> dict[str, Any]:
    """Rows: bytes per code and code entropy at levels 2 and 3 (table vs BPE, held-out), update,
    encode and decode MB/s. Target: level 2 bytes per code >= the BPE's at equal vocabulary."""
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    max_size = 600 if quick else 8000
    bpe_cache: dict[tuple[str, int], Any] = {}
    for corpus in _corpora(quick, notes):
        held = _chunks(corpus.held_out)
        for si, source in enumerate(corpus.sources[: 1 if quick else None]):
            table, update_mbs = _grow(corpus, source, max_size)
            case = f"{corpus.name}/{source.name}"
            rows.append(bench_row(case, "update", update_mbs, "MB/s"))
            for level in (2, 3):
                vocab = table.vocab_size(level)
                stats, _ = table_level_stats(table, held, level, vocab)
                key = (corpus.name, vocab)
                if key not in bpe_cache:
                    bpe_cache[key] = train_reference_bpe([corpus.train], vocab + NUM_SPECIAL)
                bstats, _ = bpe_stats(bpe_cache[key], held)
                target = ">= BPE" if level == 2 else None
                met = stats.bytes_per_code >= bstats.bytes_per_code if level == 2 else None
                rows.append(
                    bench_row(
                        f"{case} L{level} V={vocab}",
                        "bytes/code",
                        stats.bytes_per_code,
                        "B",
                        bstats.bytes_per_code,
                        target,
                        met,
                    )
                )
                rows.append(
                    bench_row(
                        f"{case} L{level} V={vocab}",
                        "code entropy",
                        stats.code_entropy_bits,
                        "bits",
                        bstats.code_entropy_bits,
                    )
                )
                if not stats.roundtrip_exact:
                    notes.append(f"{case} level {level}: round trip NOT exact")
            if si == 0:
                rows.extend(
                    _speed_rows(corpus, table, bpe_cache[(corpus.name, table.vocab_size(2))])
                )
    notes.append(
        "bytes/code: held-out 10% of each text; table and BPE both built on the other 90%; "
        "reference = BPE with the table level's vocabulary size (V)"
    )
    return {"name": "table", "rows": rows, "notes": notes}


def _speed_rows(corpus: Corpus, table: Any, bpe: Any) -> list[dict[str, Any]]:
    """Throughput on the held-out chunks, one call per chunk, one thread each side."""
    chunks = _chunks(corpus.held_out)
    texts = [c.decode("utf-8") for c in chunks]
    n_bytes = sum(len(c) for c in chunks)
    codes = [table.encode(c, 2) for c in chunks]
    ids = [bpe.encode(t).ids for t in texts]
    enc = _mb_per_s(lambda: [table.encode(c, 2) for c in chunks], n_bytes)
    dec = _mb_per_s(lambda: [table.decode(c, 2) for c in codes], n_bytes)
    bpe_enc = _mb_per_s(lambda: [bpe.encode(t) for t in texts], n_bytes)
    bpe_dec = _mb_per_s(lambda: [bpe.decode(i) for i in ids], n_bytes)
    return [
        bench_row(f"{corpus.name} L2", "encode", enc, "MB/s", bpe_enc),
        bench_row(f"{corpus.name} L2", "decode", dec, "MB/s", bpe_dec),
    ]
