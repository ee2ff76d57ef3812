"""A local, uncompressed copy of a split's bytes, so that random windows cost a memory copy.

zarr 3 decodes a whole chunk to read any part of it (about 1,000 random 512-byte windows/s from
8 MiB chunks), while a memory map serves hundreds of thousands. So on first use a split is
decoded once, sequentially, into ``<cache>/<store_id>-<place>/<split>.u8`` (written to a temp
file and renamed, so a half-written cache is never used) and then memory-mapped. A sidecar JSON
holds the fingerprint a cache file must match to be used: the store id, the split's size, a
digest of its offsets, where the store is (its resolved path or URL: ``<place>`` is a digest of
it) and a digest of its chunk files' names, sizes and modification times. A ``cp -r`` copy
shares the store id but never the cache, and a chunk file changed since the cache was made
makes it stale. Every chunk is decoded through ``corpus_chunks.read_range``, so a damaged chunk
is an error, never a cache. Small splits are simply held in memory.

Cache directory: ``cache_dir`` argument, else ``$BITLAB_CACHE_DIR``, else
``$XDG_CACHE_HOME/bitlab/corpus`` (``~/.cache/bitlab/corpus``). Delete it at any time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bitcodec.corpus_chunks import StoredArray, read_range
from bitcodec.errors import BitcodecError

log = logging.getLogger(__name__)

DEFAULT_MEMORY_LIMIT = 64 << 20  # splits up to this many bytes are held in RAM, not cached
_READ_BLOCK = 64 << 20  # bytes decoded per zarr read while filling the cache


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where window caches live (see the module docstring)."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("BITLAB_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "bitlab" / "corpus"


def fingerprint(
    store_id: str, split: str, num_bytes: int, offsets: np.ndarray, location: str, chunks: str
) -> dict[str, Any]:
    """What a cache file must match: the store and where it is, the split, its size, its
    document offsets, and its chunk files (``corpus_chunks.listing_digest``)."""
    digest = hashlib.blake2b(np.ascontiguousarray(offsets).tobytes(), digest_size=16).hexdigest()
    return {"store_id": store_id, "split": split, "num_bytes": int(num_bytes), "offsets": digest,
            "location": location, "chunks": chunks}  # fmt: skip


def cache_files(
    fp: dict[str, Any], cache_dir: str | os.PathLike[str] | None = None
) -> tuple[Path, Path]:
    """(the cache file of the split ``fp`` describes, its fingerprint sidecar)."""
    place = hashlib.blake2b(fp["location"].encode(), digest_size=6).hexdigest()
    folder = cache_root(cache_dir) / f"{fp['store_id']}-{place}"
    return folder / f"{fp['split']}.u8", folder / f"{fp['split']}.json"


def _read_all(stored: StoredArray, num_bytes: int, out: np.ndarray) -> None:
    chunk = stored.chunk
    block = max(_READ_BLOCK - _READ_BLOCK % chunk, chunk)
    for start in range(0, num_bytes, block):
        stop = min(start + block, num_bytes)
        read_range(stored, start, stop, out[start:stop])


def load_split_bytes(
    stored: StoredArray,
    fp: dict[str, Any],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
) -> np.ndarray:
    """uint8 [num_bytes]: the split's bytes, from RAM (small splits) or a memory-mapped cache."""
    num_bytes = fp["num_bytes"]
    if num_bytes <= memory_limit or num_bytes == 0:
        data = np.empty(num_bytes, dtype=np.uint8)
        _read_all(stored, num_bytes, data)
        return data
    data_path, meta_path = cache_files(fp, cache_dir)
    folder = data_path.parent
    if _valid(data_path, meta_path, fp):
        return np.memmap(data_path, dtype=np.uint8, mode="r", shape=(num_bytes,))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{fp['split']}.{uuid.uuid4().hex}.tmp"
        log.info(
            "decoding %d bytes of split %s into the window cache %s",
            num_bytes,
            fp["split"],
            data_path,
        )
        try:
            out = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=(num_bytes,))
            _read_all(stored, num_bytes, out)
            out.flush()
            del out
            os.replace(tmp, data_path)
        finally:
            tmp.unlink(missing_ok=True)
        meta_tmp = folder / f".{fp['split']}.{uuid.uuid4().hex}.json.tmp"
        meta_tmp.write_text(json.dumps(fp), encoding="utf-8")
        os.replace(meta_tmp, meta_path)
    except OSError as exc:
        raise BitcodecError(
            f"cannot write the window cache in '{folder}' ({exc.strerror or exc}): set "
            "BITLAB_CACHE_DIR (or pass cache_dir=) to a writable directory with "
            f"{num_bytes / 2**20:.0f} MiB free"
        ) from exc
    return np.memmap(data_path, dtype=np.uint8, mode="r", shape=(num_bytes,))


def _valid(data_path: Path, meta_path: Path, fp: dict[str, Any]) -> bool:
    try:
        if data_path.stat().st_size != fp["num_bytes"]:
            return False
        return json.loads(meta_path.read_text(encoding="utf-8")) == fp
    except (OSError, ValueError):
        return False
