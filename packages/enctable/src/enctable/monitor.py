"""Section 4.3's monitoring of a table: frequency profile, entropy, consistency, decode fidelity,
plus the code statistics (bytes per code, code entropy, coverage) on a sample."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from enctable.byte_input import BytesLike, as_uint8

if TYPE_CHECKING:
    from enctable.table import AdaptiveEncodingTable

FIDELITY_CHUNKS = 16


def entropy_bits(counts: np.ndarray) -> float:
    """Shannon entropy (bits) of the distribution proportional to counts."""
    c = counts[counts > 0].astype(np.float64)
    if c.shape[0] == 0:
        return 0.0
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def rank_frequency(freq: np.ndarray, points: int = 64) -> list[list[float]]:
    """[[rank, frequency], ...] at about `points` log-spaced ranks (1-based), for plots."""
    f = np.sort(freq)[::-1]
    if f.shape[0] == 0:
        return []
    ranks = np.unique(np.geomspace(1, f.shape[0], num=min(points, f.shape[0])).astype(np.int64))
    return [[int(r), float(f[r - 1])] for r in ranks]


def code_stats(table: AdaptiveEncodingTable, data: np.ndarray, level: int) -> dict[str, Any]:
    """bytes per code, code entropy, coverage and round-trip fidelity of `data` at `level`."""
    if data.shape[0] == 0:
        return {
            "bytes_per_code": None,
            "code_entropy_bits": None,
            "coverage": None,
            "decode_fidelity": None,
            "roundtrip_exact": None,
        }
    codes = table.encode(data, level)
    _, counts = np.unique(codes, return_counts=True)
    lk = table.lookup(level)
    covered = int(lk.code_len[codes[codes >= 256]].sum())
    chunks = np.array_split(data, min(FIDELITY_CHUNKS, data.shape[0]))
    exact = [table.decode(table.encode(c, level), level) == c.tobytes() for c in chunks]
    return {
        "bytes_per_code": data.shape[0] / codes.shape[0],
        "code_entropy_bits": entropy_bits(counts),
        "coverage": covered / data.shape[0],
        "decode_fidelity": float(np.mean(exact)),
        "roundtrip_exact": table.decode(codes, level) == data.tobytes(),
    }


def table_stats(
    table: AdaptiveEncodingTable, sample: BytesLike | None = None, top_k: int = 10
) -> dict[str, Any]:
    """Per-level monitoring. Code statistics are on `sample` when given, else on the bytes of
    the most recent updates (config.recent_bytes)."""
    data = table.recent if sample is None else as_uint8(sample, "sample")
    levels = []
    for t in table.tables:
        freq = t.frequency
        total = float(freq.sum())
        top = np.sort(freq)[::-1][:top_k]
        entry: dict[str, Any] = {
            "level": t.level,
            "size": len(t),
            "vocab_size": table.vocab_size(t.level),
            "sketch_size": len(table.sketches[t.level - 1]),
            "sketch_capacity": table.sketches[t.level - 1].capacity,
            "mean_pattern_bytes": float(np.diff(t.offsets).mean()) if len(t) else None,
            "top_k_share": float(top.sum() / total) if total > 0 else None,
            "table_entropy_bits": entropy_bits(freq),
            "rank_frequency": rank_frequency(freq),
            "mean_confidence": float(t.confidence.mean()) if len(t) else None,
            "weighted_confidence": float((t.confidence * freq).sum() / total)
            if total > 0
            else None,
        }
        entry.update(code_stats(table, data, t.level))
        levels.append(entry)
    return {
        "updates": table.updates,
        "step": table.step,
        "bytes_seen": table.bytes_seen,
        "sample_bytes": int(data.shape[0]),
        "sample_source": "recent" if sample is None else "sample",
        "top_k": top_k,
        "memory_bytes": int(sum(s.nbytes for s in table.sketches)),
        "levels": levels,
    }
