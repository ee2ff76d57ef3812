"""One split's ``bytes`` and ``offsets`` arrays as the writer fills them: whole chunks only.

The writer's buffers hold less than one chunk per array; whole chunks of ``bytes`` are encoded
here with the array's own codec chain (bytes, then zstd with its content checksum) and stored
as zarr would store them, each chunk file written atomically (zarr's own write path costs about
twice the CPU of the compression, measured with zarr 3.1.6). Partly filled last chunks go
through zarr, only at checkpoints and at the end, with ``write_empty_chunks`` on: every chunk of
a store is a file, even one of only zeros, so a missing file always means damage
(``corpus_chunks``).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import zarr
import zstandard

from bitcodec.errors import BitcodecError


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
    os.replace(tmp, path)


class SplitArrays:
    """One split's ``bytes`` and ``offsets`` arrays plus the buffers of their unflushed tails."""

    def __init__(
        self, group: Any, chunk_root: Path, chunk_bytes: int, offsets_chunk: int, zstd_level: int
    ) -> None:

        with zarr.config.set({"array.write_empty_chunks": True}):  # the arrays keep this config
            self.bytes_arr = group["bytes"]
            self.offsets_arr = group["offsets"]
        self.chunk_root = chunk_root  # the directory of the `bytes` array in the local store
        # The checksum (XXH64 of the chunk, 4 bytes) lets every reader catch changed bytes.
        self.compressor = zstandard.ZstdCompressor(level=zstd_level, write_checksum=True)
        self.chunk_bytes = chunk_bytes
        self.offsets_chunk = offsets_chunk
        self.flushed_bytes = 0  # a multiple of chunk_bytes: bytes_arr[:flushed_bytes] is final
        self.byte_buf = bytearray()  # bytes from flushed_bytes on
        self.flushed_offsets = 0  # a multiple of offsets_chunk
        self.offset_parts: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]  # the leading 0
        self.offset_buffered = 1
        self.num_bytes = 0
        self.num_docs = 0

    def append(self, data: memoryview | bytes, lengths: np.ndarray) -> None:
        """Append documents given as their concatenation and their lengths (int64 [d])."""
        if len(lengths) == 0:
            return
        ends = self.num_bytes + np.cumsum(lengths, dtype=np.int64)  # [d] new offsets
        self.offset_parts.append(ends)
        self.offset_buffered += len(ends)
        self.num_bytes = int(ends[-1])
        self.num_docs += len(lengths)
        self._append_bytes(memoryview(data))
        if self.offset_buffered >= self.offsets_chunk:
            self._flush_offsets(whole_only=True)

    def _append_bytes(self, view: memoryview) -> None:
        chunk = self.chunk_bytes
        pos = 0
        if self.byte_buf:  # top up the buffered partial chunk first
            pos = min(chunk - len(self.byte_buf), len(view))
            self.byte_buf += view[:pos]
            if len(self.byte_buf) == chunk:
                self._write_whole(np.frombuffer(bytes(self.byte_buf), np.uint8))
                self.byte_buf = bytearray()
        whole = (len(view) - pos) // chunk * chunk
        if whole and not self.byte_buf:  # whole chunks straight from the caller's bytes
            self._write_whole(np.frombuffer(view[pos : pos + whole], np.uint8))
            pos += whole
        self.byte_buf += view[pos:]

    def _write_whole(self, data: np.ndarray) -> None:
        """Write whole chunks at the flushed end.

        The chunks are encoded here with the array's own codec chain (bytes, then zstd) and
        stored as zarr would store them, each file written atomically: zarr's own write path
        costs about twice the CPU of the compression itself (measured with zarr 3.1.6).
        """
        end = self.flushed_bytes + len(data)
        if self.bytes_arr.shape[0] < end:
            self.bytes_arr.resize((end,))
        first = self.flushed_bytes // self.chunk_bytes
        for k in range(len(data) // self.chunk_bytes):
            key = self.bytes_arr.metadata.encode_chunk_key((first + k,))
            chunk = data[k * self.chunk_bytes : (k + 1) * self.chunk_bytes]
            _atomic_write_bytes(self.chunk_root / key, self.compressor.compress(chunk))
        self.flushed_bytes = end

    def _write_bytes_tail(self) -> None:
        end = self.flushed_bytes + len(self.byte_buf)
        if self.bytes_arr.shape[0] != end:
            self.bytes_arr.resize((end,))
        if self.byte_buf:
            self.bytes_arr[self.flushed_bytes : end] = np.frombuffer(bytes(self.byte_buf), np.uint8)

    def _flush_offsets(self, whole_only: bool) -> None:
        pending = np.concatenate(self.offset_parts) if self.offset_parts else np.zeros(0, np.int64)
        n = len(pending)
        if whole_only:
            n -= n % self.offsets_chunk
        end = self.flushed_offsets + n
        if self.offsets_arr.shape[0] != end and (n or not whole_only):
            self.offsets_arr.resize((end,))
        if n:
            self.offsets_arr[self.flushed_offsets : end] = pending[:n]
        if whole_only and n:
            self.offset_parts = [pending[n:]]
            self.offset_buffered = len(pending) - n
            self.flushed_offsets = end
        else:
            self.offset_parts = [pending]

    def write_tails(self) -> None:
        """Write the partly filled last chunks too (at checkpoints and at the end)."""
        self._write_bytes_tail()
        self._flush_offsets(whole_only=False)

    def restore(self, num_bytes: int, num_docs: int) -> None:
        """Cut the arrays back to a checkpoint's lengths and reload the tails into the buffers."""
        if self.bytes_arr.shape[0] < num_bytes or self.offsets_arr.shape[0] < num_docs + 1:
            raise BitcodecError(
                f"the interrupted store '{self.bytes_arr.store_path}' holds less than its "
                "checkpoint says",
                "start over with overwrite=True",
            )
        self.bytes_arr.resize((num_bytes,))
        self.offsets_arr.resize((num_docs + 1,))
        self.num_bytes, self.num_docs = num_bytes, num_docs
        self.flushed_bytes = num_bytes - num_bytes % self.chunk_bytes
        self.byte_buf = bytearray(self.bytes_arr[self.flushed_bytes : num_bytes].tobytes())
        self.flushed_offsets = (num_docs + 1) - (num_docs + 1) % self.offsets_chunk
        tail = np.asarray(self.offsets_arr[self.flushed_offsets : num_docs + 1], dtype=np.int64)
        self.offset_parts = [tail]
        self.offset_buffered = len(tail)
