"""How compactly a text is coded: general-purpose compressors and code statistics of a table.

- ``compressed_bits_per_byte``: gzip -9, xz -9 (stdlib gzip / lzma) and zstd -19 (zstandard),
  as 8 x compressed size / original size;
- ``code_entropy_bits``: Shannon entropy of the empirical code distribution, in bits per code;
- ``table_level_stats``: for one level of an encoding table (anything with ``encode(bytes, level)``
  and ``decode(codes, level)``), bytes per code, code entropy, the ideal entropy-coded bits per
  byte, and whether every text round-trips exactly.
"""

from __future__ import annotations

import gzip
import lzma
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import zstandard
from bitbaselines.bpe import NUM_SPECIAL, byte_symbols, encode_pieces

from bitbench.errors import BitbenchError

COMPRESSORS: tuple[str, ...] = ("gzip", "xz", "zstd")


def compress(data: bytes, method: str) -> bytes:
    """Compress with the strongest standard preset: gzip -9, xz -9, zstd -19."""
    if method == "gzip":
        return gzip.compress(data, compresslevel=9, mtime=0)
    if method == "xz":
        return lzma.compress(data, format=lzma.FORMAT_XZ, preset=9)
    if method == "zstd":
        return zstandard.ZstdCompressor(level=19).compress(data)
    raise BitbenchError(f"unknown compressor '{method}': choose one of {', '.join(COMPRESSORS)}")


def compressed_bits_per_byte(data: bytes, method: str) -> float:
    """8 x len(compressed) / len(data)."""
    if not data:
        raise BitbenchError("cannot measure compression of empty data: pass at least one byte")
    return 8.0 * len(compress(data, method)) / len(data)


def compression_baselines(data: bytes) -> dict[str, float]:
    """Bits per byte of every compressor in ``COMPRESSORS`` on the same bytes."""
    return {method: compressed_bits_per_byte(data, method) for method in COMPRESSORS}


def code_entropy_bits(codes: np.ndarray | Sequence[int]) -> float:
    """Entropy in bits per code of the empirical distribution of ``codes`` (0.0 for none)."""
    codes = np.asarray(codes).ravel()
    if codes.size == 0:
        return 0.0
    _, counts = np.unique(codes, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def rank_frequency(codes: np.ndarray | Sequence[int]) -> np.ndarray:
    """Counts of each distinct code, most frequent first (for rank-frequency plots)."""
    codes = np.asarray(codes).ravel()
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64)
    _, counts = np.unique(codes, return_counts=True)
    return np.sort(counts)[::-1].astype(np.int64)


class CodeTable(Protocol):
    def encode(self, data: bytes, level: int) -> np.ndarray: ...
    def decode(self, codes: np.ndarray, level: int) -> bytes: ...


@dataclass(frozen=True)
class LevelStats:
    """Statistics of one table level (or of a reference tokenizer) over a text sample."""

    level: int
    vocab_size: int
    num_bytes: int
    num_codes: int
    bytes_per_code: float
    code_entropy_bits: float
    entropy_bits_per_byte: float  # code_entropy_bits / bytes_per_code: ideal entropy coding
    roundtrip_exact: bool
    distinct_codes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def level_stats_from_codes(
    level: int, vocab_size: int, num_bytes: int, codes: np.ndarray, roundtrip_exact: bool
) -> LevelStats:
    """LevelStats from the codes of all texts concatenated and their total byte count."""
    codes = np.asarray(codes).ravel()
    if num_bytes <= 0 or codes.size == 0:
        raise BitbenchError("code statistics over an empty text: pass at least one non-empty text")
    per_code = num_bytes / codes.size
    entropy = code_entropy_bits(codes)
    return LevelStats(
        level=level,
        vocab_size=int(vocab_size),
        num_bytes=int(num_bytes),
        num_codes=int(codes.size),
        bytes_per_code=per_code,
        code_entropy_bits=entropy,
        entropy_bits_per_byte=entropy / per_code,
        roundtrip_exact=bool(roundtrip_exact),
        distinct_codes=int(np.unique(codes).size),
    )


def table_level_stats(
    table: CodeTable, texts: Iterable[bytes], level: int, vocab_size: int
) -> tuple[LevelStats, np.ndarray]:
    """Encode every text at ``level``, decode it back, and measure. Returns (stats, all codes)."""
    all_codes: list[np.ndarray] = []
    num_bytes = 0
    exact = True
    for text in texts:
        if not text:
            continue
        codes = np.asarray(table.encode(text, level))
        exact = exact and bytes(table.decode(codes, level)) == text
        all_codes.append(codes.ravel())
        num_bytes += len(text)
    joined = np.concatenate(all_codes) if all_codes else np.zeros(0, dtype=np.int64)
    return level_stats_from_codes(level, vocab_size, num_bytes, joined, exact), joined


def bpe_stats(
    tokenizer: Any, texts: Iterable[bytes], level: int = -1
) -> tuple[LevelStats, np.ndarray]:
    """Tokens per text, measured like a table level: (LevelStats, all token ids). The
    vocabulary counted is the byte symbols and merges (the specials are never produced); a
    text round-trips when its tokens' byte symbols give back its exact bytes."""
    codes: list[np.ndarray] = []
    num_bytes = 0
    exact = True
    reverse = {s: b for b, s in enumerate(byte_symbols())}
    vocab = {i: t for t, i in tokenizer.get_vocab().items()}
    for text in texts:
        if not text:
            continue
        ids = encode_pieces(tokenizer, [text])[0]
        decoded = bytes(reverse[ch] for i in ids.tolist() for ch in vocab[i])
        exact = exact and decoded == text
        codes.append(ids)
        num_bytes += len(text)
    joined = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)
    vocab_size = tokenizer.get_vocab_size() - NUM_SPECIAL
    stats = level_stats_from_codes(level, vocab_size, num_bytes, joined, exact)
    return stats, joined
