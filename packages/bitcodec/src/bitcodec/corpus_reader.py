"""Reading a corpus store: ``open_corpus(path_or_url) -> Corpus`` with ``train`` / ``val`` splits.

Documents are numbered per split in store order; ``Corpus.document(i)`` numbers all train
documents first, then all val documents. ``CorpusSplit.sample_windows`` reads from a local
uncompressed copy of the split (``corpus_cache``), so random windows run at memory speed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from bitcodec.corpus_cache import DEFAULT_MEMORY_LIMIT, fingerprint, load_split_bytes
from bitcodec.corpus_chunks import (
    StoredArray,
    check_chunks,
    damaged,
    listing_digest,
    read_range,
    verify_chunks,
)
from bitcodec.corpus_format import SPLITS, check_root_attrs
from bitcodec.errors import BitcodecError

log = logging.getLogger(__name__)

_RECREATE = "re-create it with prepare-corpus"


def _damaged(where: str, what: str) -> BitcodecError:
    return damaged(where, what, _RECREATE)


class CorpusSplit:
    """One split (``train`` or ``val``): ``num_docs``, ``num_bytes``, ``document(i)``, windows."""

    def __init__(
        self,
        where: str,
        name: str,
        group: Any,
        store_id: str,
        expected: dict[str, int],
        location: str,
        *,
        cache_dir: str | os.PathLike[str] | None,
        memory_limit: int,
    ) -> None:
        self.where = where
        self.name = name
        try:
            self._bytes_arr = group["bytes"]
            offsets_arr = group["offsets"]
        except KeyError as exc:
            raise _damaged(
                where, f"{name}/{exc.args[0] if exc.args else 'array'} is missing"
            ) from exc
        if self._bytes_arr.dtype != np.uint8 or self._bytes_arr.ndim != 1:
            raise _damaged(
                where,
                f"{name}/bytes is {self._bytes_arr.dtype} {self._bytes_arr.shape}, not 1-D uint8",
            )
        if offsets_arr.dtype != np.int64 or offsets_arr.ndim != 1:
            raise _damaged(where, f"{name}/offsets is {offsets_arr.dtype}, not 1-D int64")
        self._bytes = StoredArray(where, f"{name}/bytes", self._bytes_arr)
        self._offsets = StoredArray(where, f"{name}/offsets", offsets_arr)
        chunks = check_chunks(self._bytes)  # a missing chunk would read as zeros
        check_chunks(self._offsets)
        offsets = np.asarray(
            read_range(self._offsets, 0, int(offsets_arr.shape[0])), dtype=np.int64
        )  # [D + 1]
        num_bytes = int(self._bytes_arr.shape[0])
        if len(offsets) == 0 or offsets[0] != 0:
            raise _damaged(where, f"{name}/offsets does not start at 0")
        if int(offsets[-1]) != num_bytes:
            raise _damaged(
                where,
                f"{name}/offsets ends at {int(offsets[-1])} but {name}/bytes holds {num_bytes} bytes",
            )
        if len(offsets) > 1 and bool(np.any(np.diff(offsets) < 0)):
            raise _damaged(where, f"{name}/offsets decrease")
        if expected.get("docs") != len(offsets) - 1 or expected.get("bytes") != num_bytes:
            raise _damaged(
                where,
                f"{name} holds {len(offsets) - 1} documents / {num_bytes} bytes, its attributes say "
                f"{expected.get('docs')} / {expected.get('bytes')}",
            )
        self.offsets = offsets
        self.num_docs = len(offsets) - 1
        self.num_bytes = num_bytes
        self._fingerprint = fingerprint(
            store_id, name, num_bytes, offsets, location, listing_digest(chunks)
        )
        self._cache_dir = cache_dir
        self._memory_limit = memory_limit
        self._data: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"CorpusSplit({self.where!r}, {self.name!r}, docs={self.num_docs}, bytes={self.num_bytes})"

    def __len__(self) -> int:
        return self.num_docs

    def arrays(self) -> tuple[StoredArray, StoredArray]:
        """The split's ``bytes`` and ``offsets`` arrays."""
        return self._bytes, self._offsets

    def __getstate__(self) -> dict[str, Any]:
        # Picklable for spawned data-loader workers: each reopens its memory map lazily.
        state = dict(self.__dict__)
        state["_data"] = None
        return state

    def data(self) -> np.ndarray:
        """uint8 [num_bytes]: all bytes of the split (memory-mapped cache or RAM), built once."""
        if self._data is None:
            self._data = load_split_bytes(
                self._bytes,
                self._fingerprint,
                cache_dir=self._cache_dir,
                memory_limit=self._memory_limit,
            )
        return self._data

    def document(self, i: int) -> bytes:
        """The exact bytes of document ``i`` (0 <= i < num_docs)."""
        i = int(i)
        if i < 0:
            i += self.num_docs
        if not 0 <= i < self.num_docs:
            raise IndexError(
                f"document {i} is out of range: split '{self.name}' has {self.num_docs}"
            )
        start, stop = int(self.offsets[i]), int(self.offsets[i + 1])
        if self._data is not None:
            return self._data[start:stop].tobytes()
        return np.asarray(read_range(self._bytes, start, stop), dtype=np.uint8).tobytes()

    def windows_at(self, starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
        """Windows beginning at the given byte positions: (uint8 [n, length], bool [n, length])."""
        starts = np.asarray(starts, dtype=np.int64)  # [n]
        if length < 1:
            raise BitcodecError(f"window length must be >= 1, got {length}")
        if len(starts) and (starts.min() < 0 or starts.max() > self.num_bytes - length):
            raise BitcodecError(
                f"window starts must lie in [0, {self.num_bytes - length}] for length {length} "
                f"in split '{self.name}' of {self.num_bytes} bytes"
            )
        data = self.data()
        windows = data[starts[:, None] + np.arange(length, dtype=np.int64)]  # [n, length]
        doc_starts = np.zeros((len(starts), length), dtype=bool)  # [n, length]
        lo = np.searchsorted(self.offsets, starts, side="left")  # first doc start >= window start
        hi = np.searchsorted(self.offsets, starts + length, side="left")  # first at/after the end
        counts = hi - lo  # [n] documents beginning inside each window
        total = int(counts.sum())
        if total:
            rows = np.repeat(np.arange(len(starts)), counts)  # [total]
            first = np.repeat(np.cumsum(counts) - counts, counts)  # [total]
            idx = np.arange(total) - first + np.repeat(lo, counts)  # [total] offsets indices
            doc_starts[rows, self.offsets[idx] - starts[rows]] = True
        return windows, doc_starts

    def sample_windows(
        self, n: int, length: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` random windows of ``length`` bytes: (uint8 [n, length], bool [n, length]).

        Each window is a contiguous slice of the split's concatenated bytes whose start is
        uniform over [0, num_bytes - length]; ``doc_starts[i, j]`` is True where a document
        begins at byte j of window i. The result depends only on ``rng``'s state.
        """
        if self.num_bytes == 0:
            raise BitcodecError(
                f"split '{self.name}' of corpus store '{self.where}' is empty (no documents)",
                "re-create the store with prepare-corpus and a val fraction that gives both "
                "splits documents",
            )
        if length > self.num_bytes:
            raise BitcodecError(
                f"split '{self.name}' of '{self.where}' holds {self.num_bytes} bytes, fewer than "
                f"one window of {length}",
                f"use windows of at most {self.num_bytes} bytes, or a bigger corpus",
            )
        if length < 1:
            raise BitcodecError(f"window length must be >= 1, got {length}")
        starts = rng.integers(0, self.num_bytes - length + 1, size=int(n), dtype=np.int64)
        return self.windows_at(starts, length)


class Corpus:
    """A corpus store opened for reading (``open_corpus``)."""

    def __init__(
        self, where: str, root: Any, attrs: dict[str, Any], location: str, **split_options: Any
    ) -> None:
        self.where = where
        self.attrs = attrs
        self.store_id = str(attrs.get("store_id", ""))
        counts = attrs.get("counts") or {}
        self.splits: dict[str, CorpusSplit] = {}
        for name in SPLITS:
            try:
                group = root[name]
            except KeyError as exc:
                raise _damaged(where, f"the '{name}' group is missing") from exc
            self.splits[name] = CorpusSplit(
                where,
                name,
                group,
                self.store_id,
                counts.get(name) or {},
                location,
                **split_options,
            )
        self.train = self.splits["train"]
        self.val = self.splits["val"]
        self.num_docs = self.train.num_docs + self.val.num_docs
        self.num_bytes = self.train.num_bytes + self.val.num_bytes

    def __repr__(self) -> str:
        return f"Corpus({self.where!r}, docs={self.num_docs}, bytes={self.num_bytes})"

    def __len__(self) -> int:
        return self.num_docs

    @property
    def format_version(self) -> int:
        return int(self.attrs["format_version"])

    @property
    def sources(self) -> list[dict[str, Any]]:
        return list(self.attrs.get("sources", []))

    def document(self, i: int) -> bytes:
        """Document ``i`` over the whole corpus: train documents first, then val."""
        i = int(i)
        if i < 0:
            i += self.num_docs
        if not 0 <= i < self.num_docs:
            raise IndexError(f"document {i} is out of range: the corpus has {self.num_docs}")
        if i < self.train.num_docs:
            return self.train.document(i)
        return self.val.document(i - self.train.num_docs)

    def chunks(self) -> list[StoredArray]:
        """Every array of the store (bytes and offsets of each split)."""
        return [a for split in self.splits.values() for a in split.arrays()]

    def verify(self, progress: Callable[[int], None] | None = None) -> int:
        """Decode every chunk of the store (zstd checksums checked where the store has them);
        ``BitcodecError`` naming the first damaged one. ``progress(n)`` after each chunk.
        Returns the number of chunks read."""
        for stored in self.chunks():
            verify_chunks(stored, progress)
        return sum(stored.num_chunks for stored in self.chunks())

    def split(self, name: str) -> CorpusSplit:
        if name not in self.splits:
            raise BitcodecError(f"unknown split '{name}': choose one of {', '.join(SPLITS)}")
        return self.splits[name]


def open_corpus(
    path_or_url: str | os.PathLike[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    storage_options: dict[str, Any] | None = None,
) -> Corpus:
    """Open a corpus store (a local path, or an fsspec URL such as ``s3://bucket/c.zarr``).

    Raises BitcodecError, naming the store and the fix, when it is missing, unfinished, of
    another format or version, or damaged. ``cache_dir``/``memory_limit``: see corpus_cache.
    """

    where = os.fspath(path_or_url)
    is_url = "://" in where
    if not is_url:
        path = Path(where)
        if not path.exists():
            partial = path.with_name(path.name + ".partial")
            if partial.exists():
                raise BitcodecError(
                    f"corpus store '{where}' is unfinished (an interrupted run left '{partial}')",
                    "rerun the same prepare-corpus with resume=True",
                )
            raise BitcodecError(
                f"corpus store '{where}' does not exist", "create it with prepare-corpus"
            )
        if not (path / "zarr.json").is_file():
            raise BitcodecError(
                f"'{where}' is not a bitlab corpus store (no zarr.json)",
                "create one with prepare-corpus",
            )
    try:
        root = zarr.open_group(
            where, mode="r", zarr_format=3, storage_options=storage_options if is_url else None
        )
        attrs = dict(root.attrs)
    except (FileNotFoundError, KeyError, ValueError, TypeError) as exc:
        raise BitcodecError(
            f"'{where}' cannot be opened as a Zarr v3 corpus store ({type(exc).__name__}: {exc})",
            "check the path, or create it with prepare-corpus",
        ) from exc
    check_root_attrs(attrs, where)
    location = where if is_url else os.path.realpath(where)
    return Corpus(where, root, attrs, location, cache_dir=cache_dir, memory_limit=memory_limit)
