"""CorpusWriter: stream documents into a Zarr v3 corpus store, atomically and resumably.

How it stays fast, bounded and safe:

- Each split buffers less than one chunk of bytes (and of offsets) and appends to zarr in
  WHOLE chunks only (zarr 3 rewrites a chunk for any partial write; DESIGN.md).
- Everything is written into ``<out>.partial/``; ``close()`` renames it to ``<out>``, so a
  killed run never leaves a store that looks complete.
- ``checkpoint(state)`` makes the progress durable: it writes each split's tail (the partly
  filled last chunk) into zarr, then atomically replaces ``.bitlab-progress.json`` with the
  committed lengths and the caller's ``state``. On resume the arrays are cut back to the
  committed lengths (zarr's local store writes every chunk file atomically, so the committed
  prefix is always intact) and the tails are read back into the buffers, so a resumed run
  writes the same bytes and offsets as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import ZstdCodec

from bitcodec.corpus_arrays import SplitArrays
from bitcodec.corpus_format import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_OFFSETS_CHUNK,
    DEFAULT_ZSTD_LEVEL,
    DIGEST_SIZE,
    FORMAT_NAME,
    FORMAT_VERSION,
    SPLIT_RULE,
    SPLITS,
    check_split_sizes,
    digests_of,
    is_val_mask,
    split_values,
    val_threshold,
)
from bitcodec.corpus_paths import (
    PARTIAL_FORMAT,
    atomic_write_text,
    check_destination,
    partial_path,
    remove_partial,
    replace_out,
)
from bitcodec.corpus_settings import settings_difference
from bitcodec.corpus_summary import CorpusSummary, complete_store_summary
from bitcodec.errors import BitcodecError
from bitcodec.writable import check_writable

log = logging.getLogger(__name__)

PROGRESS_FILE = ".bitlab-progress.json"
DEDUP_FILE = ".bitlab-dedup.bin"
MAX_MANIFEST_SOURCES = 10_000  # keep zarr.json small for inputs of many files

__all__ = [
    "CorpusSummary",
    "CorpusWriter",
    "complete_store_summary",
    "partial_path",
    "writer_settings",
]


def writer_settings(
    val_fraction: float = 0.01,
    dedup: bool = False,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    offsets_chunk: int = DEFAULT_OFFSETS_CHUNK,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The settings a CorpusWriter made with these arguments records (``CorpusWriter.settings``)."""
    return {
        "val_fraction": float(val_fraction),
        "dedup": bool(dedup),
        "chunk_bytes": int(chunk_bytes),
        "offsets_chunk": int(offsets_chunk),
        "options": dict(options or {}),
    }


class CorpusWriter:
    """Stream documents into a corpus store at ``path`` (see the module docstring).

    ``with CorpusWriter("c.zarr") as w: w.add(b"text", source="a.txt")`` writes ``c.zarr`` when
    the block ends without an error. On an error the unfinished ``c.zarr.partial`` is removed
    (unless it came from an earlier run being resumed); on KeyboardInterrupt or a kill it stays,
    for ``resume=True``. ``sources``: manifest entries (``path``, ``size``, ``mtime_ns``, ...)
    of the inputs, recorded in the store and named when a resume finds them changed.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        val_fraction: float = 0.01,
        overwrite: bool = False,
        resume: bool = False,
        dedup: bool = False,
        options: dict[str, Any] | None = None,
        sources: list[dict[str, Any]] | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        offsets_chunk: int = DEFAULT_OFFSETS_CHUNK,
        zstd_level: int = DEFAULT_ZSTD_LEVEL,
        checkpoint_every_s: float = 10.0,
    ) -> None:

        val_threshold(val_fraction)  # validates
        if chunk_bytes < 1 or offsets_chunk < 2:
            raise BitcodecError("chunk_bytes must be >= 1 and offsets_chunk >= 2")
        self.out = Path(path)
        self.partial = partial_path(self.out)
        self.val_fraction = float(val_fraction)
        self.dedup = dedup
        self.options = dict(options or {})
        self.chunk_bytes = int(chunk_bytes)
        self.offsets_chunk = int(offsets_chunk)
        self.zstd_level = int(zstd_level)
        self.checkpoint_every_s = float(checkpoint_every_s)
        self.resume_state: dict[str, Any] = {}
        self.resumed = False
        self._closed = False
        self._seen: set[bytes] = set()
        self._dedup_file: Any = None
        self._duplicates = 0
        self._values: tuple[int, int] | None = None  # lowest, highest split value kept
        self._sources: dict[str, dict[str, Any]] = {}
        self._skipped: list[dict[str, Any]] = []
        self._inputs = [dict(s) for s in sources or []]
        self._last_checkpoint = time.monotonic()
        self._checkpoint_serial = 0
        check_writable(self.out, "corpus store", beside=True)
        check_destination(self.out, overwrite, resume)
        if resume and self.out.exists() and any(self.out.iterdir()) and not self.partial.exists():
            raise BitcodecError(
                f"corpus store '{self.out}' is already complete",
                "use complete_store_summary() to check it, or pass overwrite=True",
            )
        for entry in self._inputs:
            self.note_source(entry["path"], **{k: v for k, v in entry.items() if k != "path"})
        if resume and self.partial.is_dir() and (self.partial / PROGRESS_FILE).is_file():
            self._open_for_resume()
        else:
            self._create()

    # -- setup -------------------------------------------------------------------------------

    def _create(self) -> None:
        if self.partial.exists():  # resume asked, but the run never checkpointed
            remove_partial(self.partial)
        self._created = True
        self.store_id = uuid.uuid4().hex
        root = zarr.open_group(str(self.partial), mode="w", zarr_format=3)
        root.attrs.update({"format": PARTIAL_FORMAT, "store_id": self.store_id})
        for split in SPLITS:
            group = root.create_group(split)
            for name, dtype, chunk in (
                ("bytes", "uint8", self.chunk_bytes),
                ("offsets", "int64", self.offsets_chunk),
            ):
                group.create_array(
                    name,
                    shape=(0,),
                    chunks=(chunk,),
                    dtype=dtype,
                    compressors=[ZstdCodec(level=self.zstd_level, checksum=True)],
                    fill_value=0,
                )
        self._splits = {s: self._split_arrays(root, s) for s in SPLITS}
        self._root = root
        if self.dedup:
            self._dedup_file = open(self.partial / DEDUP_FILE, "wb")  # noqa: SIM115
        self.checkpoint()  # an empty checkpoint: resuming works from the first second

    def _split_arrays(self, root: Any, split: str) -> SplitArrays:
        return SplitArrays(
            root[split],
            self.partial / split / "bytes",
            self.chunk_bytes,
            self.offsets_chunk,
            self.zstd_level,
        )

    def settings(self) -> dict[str, Any]:
        """What decides the store's content: compared on resume and on a repeated run."""
        return writer_settings(
            self.val_fraction, self.dedup, self.chunk_bytes, self.offsets_chunk, self.options
        )

    def _open_for_resume(self) -> None:
        progress = json.loads((self.partial / PROGRESS_FILE).read_text(encoding="utf-8"))
        then_inputs = progress["sources"] + progress.get("skipped", [])
        now_inputs = self._inputs if self._inputs else None
        why = settings_difference(progress["settings"], self.settings(), then_inputs, now_inputs)
        if why is not None:
            raise BitcodecError(
                f"cannot resume '{self.partial}': {why}",
                "rerun with the same inputs and options, or pass overwrite=True to start over",
            )
        self._created = False
        self.resumed = True
        self.store_id = progress["store_id"]
        for pattern in ("*.partial", ".*.tmp"):  # temp files of writes cut short by the kill
            for stray in self.partial.rglob(pattern):
                stray.unlink(missing_ok=True)
        root = zarr.open_group(str(self.partial), mode="r+", zarr_format=3)
        self._root = root
        self._splits = {}
        for split in SPLITS:
            arrays = self._split_arrays(root, split)
            arrays.restore(progress["bytes"][split], progress["docs"][split])
            self._splits[split] = arrays
        self._duplicates = progress["duplicates_removed"]
        values = progress.get("split_values")  # absent in checkpoints of older bitcodecs
        self._values = (int(values[0]), int(values[1])) if values else None
        self._sources = {s["path"]: s for s in progress["sources"]}
        self._skipped = list(progress.get("skipped", []))
        self.resume_state = progress["state"]
        self._checkpoint_serial = progress["serial"]
        if self.dedup:
            self._reload_dedup(progress["dedup_digests"] * DIGEST_SIZE)
        log.info("resuming %s at %s", self.partial, self.summary().describe())

    def _reload_dedup(self, n: int) -> None:
        with open(self.partial / DEDUP_FILE, "r+b") as f:
            f.truncate(n)
            blob = f.read()
        if len(blob) != n:
            raise BitcodecError(
                f"the duplicate index of '{self.partial}' is shorter than its checkpoint",
                "start over with overwrite=True",
            )
        self._seen = {blob[i : i + DIGEST_SIZE] for i in range(0, n, DIGEST_SIZE)}
        self._dedup_file = open(self.partial / DEDUP_FILE, "ab")  # noqa: SIM115

    # -- writing -----------------------------------------------------------------------------

    def note_source(self, source: str, **info: Any) -> None:
        """Record facts about an input (size, mtime_ns, ...) for the sources manifest."""
        entry = self._sources.setdefault(source, {"path": source, "docs": 0, "doc_bytes": 0})
        entry.update(info)

    def note_skipped(self, source: str, size: int, reason: str = "binary") -> None:
        """Record an input that was left out (named in the store's ``skipped`` manifest)."""
        if not any(s["path"] == source for s in self._skipped):
            self._skipped.append({"path": source, "size": int(size), "reason": reason})

    def add(self, doc: bytes, source: str = "") -> str | None:
        """Add one document; returns its split, or None when it was a removed duplicate."""
        if not isinstance(doc, (bytes, bytearray, memoryview)):
            raise BitcodecError(
                f"documents must be bytes, got {type(doc).__name__}", "encode text first"
            )
        doc = bytes(doc)
        digest = digests_of([doc])
        if not self.add_many(doc, np.array([len(doc)], np.int64), digest, source=source):
            return None
        return "val" if is_val_mask(digest, self.val_fraction)[0] else "train"

    def add_many(
        self,
        data: bytes | memoryview,
        lengths: np.ndarray,
        digests: bytes | None = None,
        source: str = "",
    ) -> int:
        """Add documents given as their concatenation ``data`` and ``lengths`` (int64 [d]).

        ``digests`` (16 bytes per document, ``corpus_format.doc_digest``) may be passed when
        already computed (by ingest workers). Returns the number of documents kept.
        """
        if self._closed:
            raise BitcodecError("this CorpusWriter is closed", "open a new one")
        lengths = np.asarray(lengths, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)  # [d + 1]
        if int(starts[-1]) != len(data):
            raise BitcodecError(
                f"document lengths sum to {int(starts[-1])} but {len(data)} bytes were given"
            )
        view = memoryview(data)
        if digests is None:
            digests = digests_of([view[starts[i] : starts[i + 1]] for i in range(len(lengths))])
        keep = self._dedup_mask(digests, len(lengths)) if self.dedup else None
        to_val = is_val_mask(digests, self.val_fraction)  # [d]
        self._note_values(split_values(digests) if keep is None else split_values(digests)[keep])
        for split, mask in (("train", ~to_val), ("val", to_val)):
            sel = mask if keep is None else mask & keep  # [d] documents of this split
            if sel.all():
                self._splits[split].append(view, lengths)
                continue
            # runs of consecutive selected documents, appended as slices (no byte masks)
            edges = np.flatnonzero(np.diff(np.concatenate([[0], sel.view(np.int8), [0]])))
            for a, b in zip(edges[0::2], edges[1::2], strict=True):
                self._splits[split].append(view[starts[a] : starts[b]], lengths[a:b])
        n_kept = len(lengths) if keep is None else int(keep.sum())
        entry = self._sources.setdefault(source, {"path": source, "docs": 0, "doc_bytes": 0})
        entry["docs"] += n_kept
        entry["doc_bytes"] += int(starts[-1] if keep is None else lengths[keep].sum())
        return n_kept

    def _note_values(self, values: np.ndarray) -> None:
        if len(values):
            low, high = int(values.min()), int(values.max())
            if self._values is not None:
                low, high = min(low, self._values[0]), max(high, self._values[1])
            self._values = (low, high)

    def _dedup_mask(self, digests: bytes, n: int) -> np.ndarray:
        keep = np.ones(n, dtype=bool)
        new = bytearray()
        for i in range(n):
            dig = digests[i * DIGEST_SIZE : (i + 1) * DIGEST_SIZE]
            if dig in self._seen:
                keep[i] = False
            else:
                self._seen.add(dig)
                new += dig
        self._dedup_file.write(new)
        self._duplicates += int((~keep).sum())
        return keep

    def checkpoint_due(self) -> bool:
        return time.monotonic() - self._last_checkpoint >= self.checkpoint_every_s

    def checkpoint(self, state: dict[str, Any] | None = None) -> None:
        """Make everything added so far durable, with the caller's resume ``state``."""
        for arrays in self._splits.values():
            arrays.write_tails()
        if self._dedup_file is not None:
            self._dedup_file.flush()
            os.fsync(self._dedup_file.fileno())
        self._checkpoint_serial += 1
        if state is not None:
            self.resume_state = dict(state)
        progress = {
            "serial": self._checkpoint_serial,
            "store_id": self.store_id,
            "settings": self.settings(),
            "docs": {s: a.num_docs for s, a in self._splits.items()},
            "bytes": {s: a.num_bytes for s, a in self._splits.items()},
            "duplicates_removed": self._duplicates,
            "split_values": None if self._values is None else [str(v) for v in self._values],
            "dedup_digests": len(self._seen),
            "sources": list(self._sources.values()),
            "skipped": self._skipped,
            "state": self.resume_state,
        }
        atomic_write_text(self.partial / PROGRESS_FILE, json.dumps(progress))
        self._last_checkpoint = time.monotonic()

    def summary(self) -> CorpusSummary:
        return CorpusSummary(
            path=str(self.out),
            docs={s: a.num_docs for s, a in self._splits.items()},
            bytes={s: a.num_bytes for s, a in self._splits.items()},
            duplicates_removed=self._duplicates,
            sources=list(self._sources.values()),
            skipped=list(self._skipped),
        )

    # -- finishing ---------------------------------------------------------------------------

    def close(self) -> CorpusSummary:
        """Finish the store and move it to ``path`` (atomically). Returns what was written."""
        if self._closed:
            return self.summary()
        summary = self.summary()
        if summary.num_docs == 0:
            raise BitcodecError(
                f"no documents were written to '{self.out}'",
                "check the inputs (empty files, or every document a duplicate)",
            )
        check_split_sizes(str(self.out), summary.docs, self.val_fraction, self._values)
        for arrays in self._splits.values():
            arrays.write_tails()
        sources = summary.sources
        attrs = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "store_id": self.store_id,
            "val_fraction": self.val_fraction,
            "split_rule": SPLIT_RULE,
            "counts": {s: {"docs": summary.docs[s], "bytes": summary.bytes[s]} for s in SPLITS},
            "sources": sources[:MAX_MANIFEST_SOURCES],
            "sources_total": len(sources),
            "skipped": summary.skipped[:MAX_MANIFEST_SOURCES],
            "skipped_total": len(summary.skipped),
            "options": {**self.options, "dedup": self.dedup},
            "settings": self.settings(),
            "stats": {"duplicates_removed": self._duplicates, "resumed": self.resumed},
            "chunking": {"bytes": self.chunk_bytes, "offsets": self.offsets_chunk},
        }
        self._root.attrs.put(attrs)
        if self._dedup_file is not None:
            self._dedup_file.close()
        replace_out(self.partial, self.out)
        self._closed = True
        for name in (PROGRESS_FILE, DEDUP_FILE):  # after the move: a kill before it can resume
            (self.out / name).unlink(missing_ok=True)
        log.info("wrote %s: %s", self.out, summary.describe())
        return summary

    def abort(self) -> None:
        """Give up: remove the unfinished store if this writer created it."""
        self._closed = True
        if self._dedup_file is not None:
            self._dedup_file.close()
        if getattr(self, "_created", False):
            shutil.rmtree(self.partial, ignore_errors=True)

    def __enter__(self) -> CorpusWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            try:
                self.close()
            except Exception:
                self.abort()
                raise
        elif issubclass(exc_type, KeyboardInterrupt):
            self._closed = True  # keep the partial store and its last checkpoint for resuming
        else:
            self.abort()
