"""The chunks of a corpus store's arrays: every one present, every failed read named.

zarr serves its fill value (zeros) for a chunk that is not in the store, so a deleted chunk file
would read as NUL bytes without a word. ``check_chunks`` lists what an array has stored (one
directory listing) and names the first chunk that is missing or empty; ``read_range`` turns a
chunk that cannot be decoded (cut short, overwritten; chunks written since zstd checksums were
switched on also catch changed bytes) into one ``BitcodecError`` naming the store, the array and
the chunk. ``listing_digest`` sums up what the chunk files are (names, sizes, modification
times), so that the window cache is verified against the store it was made from.

The one chunk zarr leaves out of an intact store on purpose: an ``offsets`` array that holds only
its leading 0 (an empty split) is all fill value, and stores written before every chunk was
stored explicitly (``write_empty_chunks``) lack it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from zarr.core.sync import sync
from zarr.storage import LocalStore

from bitcodec.errors import BitcodecError

# What zarr raises for a chunk it cannot decode: numcodecs' zstd errors are RuntimeError
# ("invalid input data", "Restored data doesn't match checksum"), a frame of the wrong size is
# a ValueError from the reshape, an unreadable file an OSError.
DECODE_ERRORS = (RuntimeError, ValueError, OSError)

_BYTES_LITERAL = re.compile(r"""b(['"])(.*?)\1""")
RESTORE_FIX = "restore it from the original or re-create the store with prepare-corpus"


def damaged(where: str, what: str, fix: str = RESTORE_FIX) -> BitcodecError:
    return BitcodecError(f"corpus store '{where}' is damaged ({what})", fix)


@dataclass(frozen=True)
class StoredArray:
    """One array of a store, with the names its errors use."""

    where: str  # the store as the caller named it
    name: str  # "train/bytes"
    array: Any  # zarr.Array, 1-D

    @property
    def chunk(self) -> int:
        return int(self.array.chunks[0])

    @property
    def num_chunks(self) -> int:
        return -(-int(self.array.shape[0]) // self.chunk)

    def key(self, index: int) -> str:
        """The chunk's key inside the array (``c/3``)."""
        return self.array.metadata.encode_chunk_key((index,))

    def chunk_label(self, index: int) -> str:
        return f"chunk {index} of {self.name}, file {self.name}/{self.key(index)},"


def _local_dir(stored: StoredArray) -> Path | None:
    store = stored.array.store
    if not isinstance(store, LocalStore):
        return None
    return Path(store.root) / stored.array.path


async def _keys(store: Any, prefix: str) -> list[str]:
    return [key async for key in store.list_prefix(prefix)]


def stored_chunks(stored: StoredArray) -> dict[str, tuple[int, int]]:
    """key -> (size, mtime_ns) of every stored chunk of the array; (-1, -1) where the store does
    not say (object stores are listed by name only)."""
    folder = _local_dir(stored)
    if folder is None:
        prefix = f"{stored.array.path}/"
        keys = sync(_keys(stored.array.store, prefix))
        return {k[len(prefix) :]: (-1, -1) for k in keys}
    parent = os.path.dirname(stored.key(0))  # 1-D: every chunk lies in one folder ("c")
    try:
        entries = list(os.scandir(folder / parent))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    found: dict[str, tuple[int, int]] = {}
    for entry in entries:
        if entry.is_file():
            st = entry.stat()
            found[f"{parent}/{entry.name}" if parent else entry.name] = (st.st_size, st.st_mtime_ns)
    return found


def check_chunks(stored: StoredArray) -> dict[str, tuple[int, int]]:
    """Raise ``BitcodecError`` naming the first chunk of the array that is missing or empty;
    returns what ``stored_chunks`` found (the expected chunks only)."""
    found = stored_chunks(stored)
    keys = [stored.key(index) for index in range(stored.num_chunks)]
    only_leading_zero = stored.name.endswith("offsets") and stored.array.shape[0] == 1
    missing = [i for i, key in enumerate(keys) if key not in found]
    if missing and not only_leading_zero:
        more = f"; {len(missing) - 1} more of its {len(keys)} too" if len(missing) > 1 else ""
        raise damaged(stored.where, f"{stored.chunk_label(missing[0])} is missing{more}")
    for index, key in enumerate(keys):
        if key in found and found[key][0] == 0:
            raise damaged(stored.where, f"{stored.chunk_label(index)} is an empty file")
    return {key: found[key] for key in keys if key in found}


def listing_digest(chunks: dict[str, tuple[int, int]]) -> str:
    """A short digest of chunk names, sizes and modification times (``check_chunks``'s result)."""
    h = hashlib.blake2b(digest_size=16)
    for key in sorted(chunks):
        size, mtime = chunks[key]
        h.update(f"{key}\0{size}\0{mtime}\n".encode())
    return h.hexdigest()


def read_range(stored: StoredArray, start: int, stop: int, out: np.ndarray | None = None) -> Any:
    """``array[start:stop]`` (into ``out`` when given), or one ``BitcodecError`` naming the first
    chunk of the range that cannot be decoded."""
    try:
        if out is None:
            return stored.array[start:stop]
        out[...] = stored.array[start:stop]
        return out
    except DECODE_ERRORS as exc:
        first_error = exc
    size = stored.chunk
    for index in range(start // size, -(-stop // size)):
        try:
            stored.array[index * size : min((index + 1) * size, int(stored.array.shape[0]))]
        except DECODE_ERRORS as exc:
            raise damaged(
                stored.where, f"{stored.chunk_label(index)} cannot be decoded: {_reason(exc)}"
            ) from exc
    raise damaged(
        stored.where, f"{stored.name}[{start}:{stop}] cannot be decoded: {_reason(first_error)}"
    ) from first_error


def _reason(exc: BaseException) -> str:
    # numcodecs quotes zstd's message as a bytes literal: b"Restored data doesn't match checksum"
    text = _BYTES_LITERAL.sub(r"\2", str(exc))
    return text or type(exc).__name__


def verify_chunks(stored: StoredArray, progress: Any = None) -> None:
    """Decode every chunk (checksums included); ``progress(chunks_done)`` after each."""
    size = stored.chunk
    total = int(stored.array.shape[0])
    for index in range(stored.num_chunks):
        read_range(stored, index * size, min((index + 1) * size, total))
        if progress is not None:
            progress(1)
