"""The table benchmark's quick run: its report format and that its numbers are real."""

from __future__ import annotations

import math

from bitbench.bench_table import _chunks, table_bench

KEYS = {"case", "metric", "value", "unit", "reference", "ratio", "target", "met"}


def test_quick_table_bench_reports_table_vs_bpe() -> None:
    report = table_bench(quick=True)
    assert report["name"] == "table"
    rows = report["rows"]
    assert rows and all(set(r) == KEYS for r in rows)
    metrics = {r["metric"] for r in rows}
    assert {"bytes/code", "code entropy", "encode", "decode", "update"} <= metrics
    for r in rows:
        assert isinstance(r["value"], float) and math.isfinite(r["value"]) and r["value"] > 0
    level2 = [r for r in rows if r["metric"] == "bytes/code" and " L2 " in r["case"]]
    assert level2 and all(r["target"] == ">= BPE" and isinstance(r["met"], bool) for r in level2)
    for r in level2:
        assert r["reference"] > 1.0  # the BPE compresses too
        assert abs(r["ratio"] - r["value"] / r["reference"]) < 1e-9
    assert not any("NOT exact" in n for n in report["notes"])


def test_chunks_keep_every_byte_and_end_at_lines() -> None:
    data = b"".join(f"line {i} \xe4\xb8\xad\n".encode("latin-1") for i in range(500))
    chunks = _chunks(data, size=300)
    assert b"".join(chunks) == data
    assert all(c.endswith(b"\n") for c in chunks)
