"""Byte streams of inputs: local files or fsspec URLs, decompressed on the fly, read in blocks.

Nothing here reads a whole file into memory: ``blocks`` yields pieces of ``block_bytes``
(exactly that many, except the last, so that where a stream is cut never depends on how a
decompressor happened to return data), and ``lines_blocks`` cuts each block right after its last
record separator and carries the rest into the next block.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
from collections.abc import Iterator
from typing import IO, Any

import fsspec
import zstandard

from bitcodec.errors import BitcodecError

BLOCK_BYTES = 4 << 20


def is_url(path: str) -> bool:
    return "://" in path


def url_fs(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) of a URL such as ``s3://b/x`` or ``memory://x``."""
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise BitcodecError(
            f"input '{url}' cannot be opened ({exc})", "install the fsspec backend it names"
        ) from None


def open_raw(path: str) -> IO[bytes]:
    """The file's stored bytes (still compressed), opened for reading."""
    try:
        if is_url(path):
            fs, inner = url_fs(path)
            return fs.open(inner, "rb")
        return open(path, "rb")
    except OSError as exc:
        raise BitcodecError(
            f"input '{path}' cannot be read ({getattr(exc, 'strerror', None) or exc})",
            "check it",
        ) from None


def decompressing(raw: IO[bytes], compression: str | None) -> IO[bytes]:
    """A stream of the decompressed bytes of ``raw`` (``raw`` itself when not compressed)."""
    if compression is None:
        return raw
    if compression == "gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == "xz":
        return lzma.LZMAFile(raw, "rb")
    if compression == "bz2":
        return bz2.BZ2File(raw, "rb")
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)


def decompress_error(path: str, compression: str | None, exc: BaseException) -> BitcodecError:
    what = f".{compression}" if compression else "a file"
    return BitcodecError(f"{path}: cannot decompress it as {what} ({exc})", "check the file")


DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    lzma.LZMAError,
    zstandard.ZstdError,
    gzip.BadGzipFile,
    OSError,
)


def read_exact(stream: IO[bytes], n: int) -> bytes:
    """Up to ``n`` bytes; fewer only at the end of the stream."""
    first = stream.read(n)
    if len(first) == n or not first:
        return first
    parts = [first]
    got = len(first)
    while got < n:
        more = stream.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


@contextlib.contextmanager
def opened(path: str, compression: str | None) -> Iterator[IO[bytes]]:
    """The decompressed stream of ``path``; decompression errors name the file."""
    raw = open_raw(path)
    try:
        stream = decompressing(raw, compression)
        try:
            yield stream
        finally:
            if stream is not raw:
                with contextlib.suppress(*DECOMPRESS_ERRORS):
                    stream.close()
    except BitcodecError:
        raise
    except DECOMPRESS_ERRORS as exc:
        if isinstance(exc, OSError) and compression is None:
            raise BitcodecError(
                f"input '{path}' cannot be read ({exc.strerror or exc})", "check it"
            ) from None
        raise decompress_error(path, compression, exc) from None
    finally:
        raw.close()


def head(path: str, compression: str | None, n: int) -> bytes:
    """The first ``n`` decompressed bytes of a file (fewer when it is shorter)."""
    with opened(path, compression) as stream:
        return read_exact(stream, n)


def blocks(
    stream: IO[bytes], block_bytes: int = BLOCK_BYTES, limit: int | None = None
) -> Iterator[bytes]:
    """Blocks of exactly ``block_bytes`` (the last may be shorter); at most ``limit`` bytes."""
    left = limit
    while left is None or left > 0:
        n = block_bytes if left is None else min(block_bytes, left)
        block = read_exact(stream, n)
        if not block:
            return
        if left is not None:
            left -= len(block)
        yield block
        if len(block) < n:
            return


def last_cut(block: bytes, seps: tuple[bytes, ...]) -> int:
    """The position right after the last separator in ``block`` (0 when none)."""
    best = 0
    for sep in seps:
        i = block.rfind(sep)
        if i >= 0:
            best = max(best, i + len(sep))
    return best


def lines_blocks(
    stream: IO[bytes], seps: tuple[bytes, ...], block_bytes: int = BLOCK_BYTES,
    limit: int | None = None,
) -> Iterator[tuple[bytes, int]]:  # fmt: skip
    """(bytes ending right after a separator or at the end, offset of its first byte).

    A block is cut right after its last separator; the rest is carried into the next block
    (a record longer than a block grows the carry until a separator comes).
    """
    carry = b""
    offset = 0
    for block in blocks(stream, block_bytes, limit):
        data = carry + block if carry else block
        cut = last_cut(data, seps)
        if cut == 0:
            carry = data
            continue
        yield data[:cut], offset
        offset += cut
        carry = data[cut:]
    if carry:
        yield carry, offset


def boundary(fh: IO[bytes], x: int, size: int, seps: tuple[bytes, ...]) -> int:
    """The first position p >= x right after one of ``seps`` (or the end of the file).

    Every worker computes the same boundaries, so consecutive pieces [b(start), b(stop)) tile
    the file exactly and never cut a record.
    """
    if x <= 0:
        return 0
    if x >= size:
        return size
    back = max(len(s) for s in seps)
    offset = max(0, x - back)  # file position of buf[0]: a separator ending at x starts here
    fh.seek(offset)
    buf = fh.read(1 << 20)
    while True:
        hits = []
        for sep in seps:
            i = buf.find(sep, max(0, x - len(sep) - offset))
            if i >= 0:
                hits.append(offset + i + len(sep))
        if hits:
            return min(hits)
        more = fh.read(1 << 20)
        if not more:
            return size
        keep = min(back - 1, len(buf))  # a separator may straddle the two reads
        offset += len(buf) - keep
        buf = buf[len(buf) - keep :] + more


def file_stat(path: str) -> tuple[int, int]:
    """(size, modification time in ns) of a local path or URL (0 when the store has none)."""
    if not is_url(path):
        st = os.stat(path)
        return st.st_size, st.st_mtime_ns
    fs, inner = url_fs(path)
    info = fs.info(inner)
    mtime = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
    if hasattr(mtime, "timestamp"):
        mtime = mtime.timestamp()
    return int(info.get("size") or 0), int(float(mtime) * 1e9)
