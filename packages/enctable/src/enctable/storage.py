"""Open, versioned on-disk format of a table (never pickle).

    TABLE/table.json   {"format": "enctable", "version": 1, "config": {...}, "state": {...},
                        "levels": [{"level", "size", "sketch_size"}, ...], "arrays": "arrays.npz"}
    TABLE/arrays.npz   plain numeric arrays (np.savez, loaded with allow_pickle=False):
                       L{k}_table_{keys,codes,frequency,confidence,concat,offsets}
                       L{k}_sketch_{keys,counts,exact,seen,concat,offsets}, recent
Patterns are a concatenated uint8 array plus int64 offsets. A save writes a temporary sibling
directory and renames it into place, so a crash never leaves a half-written table.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from enctable.config import TableConfig
from enctable.errors import EnctableError
from enctable.level_table import LevelTable
from enctable.sketch import HeavyHitters

if TYPE_CHECKING:
    from enctable.table import AdaptiveEncodingTable

FORMAT_NAME = "enctable"
FORMAT_VERSION = 1
META_FILE = "table.json"
ARRAYS_FILE = "arrays.npz"
TABLE_FIELDS = ("keys", "codes", "frequency", "confidence", "concat", "offsets")
SKETCH_FIELDS = ("keys", "counts", "exact", "seen", "concat", "offsets")


def _is_table_dir(path: Path) -> bool:
    try:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT_NAME


def check_table_destination(directory: Path) -> None:
    """Raise EnctableError unless a table may be saved to ``directory`` (absent, empty, or an
    earlier table): callers check before the work that grows the table."""
    if directory.exists() and not directory.is_dir():
        raise EnctableError(f"table path '{directory}' is a file: choose a directory path")
    if directory.is_dir() and any(directory.iterdir()) and not _is_table_dir(directory):
        raise EnctableError(
            f"'{directory}' exists and is not an enctable table: choose another path or empty it"
        )


def save_table(table: AdaptiveEncodingTable, directory: Path) -> None:
    check_table_destination(directory)
    arrays: dict[str, np.ndarray] = {"recent": table.recent}
    levels = []
    for t, sk in zip(table.tables, table.sketches, strict=True):
        for name in TABLE_FIELDS:
            arrays[f"L{t.level}_table_{name}"] = getattr(t, name)
        for name in SKETCH_FIELDS:
            arrays[f"L{t.level}_sketch_{name}"] = getattr(sk, name)
        levels.append({"level": t.level, "size": len(t), "sketch_size": len(sk)})
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "config": table.config.to_dict(),
        "state": {"step": table.step, "updates": table.updates, "bytes_seen": table.bytes_seen},
        "levels": levels,
        "arrays": ARRAYS_FILE,
    }
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        np.savez(tmp / ARRAYS_FILE, **arrays)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        old = None
        if directory.exists():
            old = directory.parent / f".{directory.name}.old-{os.getpid()}"
            os.replace(directory, old)
        os.replace(tmp, directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _fail(directory: Path, why: str) -> EnctableError:
    return EnctableError(
        f"table '{directory}' {why}: point at a directory written by AdaptiveEncodingTable.save "
        "(or `bitlab table build`), or rebuild it"
    )


def load_table(directory: Path, table_class: type[AdaptiveEncodingTable]) -> AdaptiveEncodingTable:
    """A saved table, rebuilt as ``table_class`` (AdaptiveEncodingTable.load passes itself)."""
    if not directory.is_dir():
        raise _fail(directory, "does not exist or is not a directory")
    try:
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(directory, f"has no {META_FILE}") from None
    except (OSError, ValueError) as exc:
        raise _fail(directory, f"has an unreadable {META_FILE} ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise _fail(directory, f"is not an enctable table ({META_FILE} has no format 'enctable')")
    if meta.get("version") != FORMAT_VERSION:
        raise EnctableError(
            f"table '{directory}' has format version {meta.get('version')!r}, this enctable reads "
            f"{FORMAT_VERSION}: rebuild it with this version (bitlab table build)"
        )
    try:
        config = TableConfig.from_dict(meta["config"])
        state = meta["state"]
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise _fail(directory, f"has no {ARRAYS_FILE}") from None
    except (KeyError, TypeError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise _fail(directory, f"is corrupt ({type(exc).__name__}: {exc})") from None
    table = table_class(config=config)
    try:
        for k in range(1, config.levels + 1):
            t = LevelTable(k, **{n: arrays[f"L{k}_table_{n}"] for n in TABLE_FIELDS})
            sk = HeavyHitters(
                config.sketch_capacity, **{n: arrays[f"L{k}_sketch_{n}"] for n in SKETCH_FIELDS}
            )
            _check_consistent(directory, k, t, sk, config)
            table.tables[k - 1] = t
            table.sketches[k - 1] = sk
        table.recent = arrays["recent"].astype(np.uint8)
        table.step = int(state["step"])
        table.updates = int(state["updates"])
        table.bytes_seen = int(state["bytes_seen"])
    except KeyError as exc:
        raise _fail(directory, f"is missing {exc}") from None
    return table


def _check_consistent(
    directory: Path, level: int, t: LevelTable, sk: HeavyHitters, config: TableConfig
) -> None:
    first, end = config.code_block(level)
    for what, n, concat, offsets in (
        ("table", len(t), t.concat, t.offsets),
        ("sketch", len(sk), sk.concat, sk.offsets),
    ):
        ok = (
            offsets.ndim == 1
            and offsets.shape[0] == n + 1
            and concat.dtype == np.uint8
            and offsets[0] == 0
            and offsets[-1] == concat.shape[0]
            and bool(np.all(np.diff(offsets) >= 1))
        )
        if not ok:
            raise _fail(directory, f"is corrupt (level {level} {what} patterns are inconsistent)")
    aligned = all(a.shape[0] == len(t) for a in (t.keys, t.frequency, t.confidence)) and all(
        a.shape[0] == len(sk) for a in (sk.counts, sk.exact, sk.seen)
    )
    if not aligned or (len(t) and (t.codes.min() < first or t.codes.max() >= end)):
        raise _fail(directory, f"is corrupt (level {level} arrays do not line up)")
