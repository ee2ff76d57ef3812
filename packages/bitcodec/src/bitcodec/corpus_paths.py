"""Where a corpus store is written: the ``.partial`` folder, what may be replaced, atomic writes.

Rules: everything goes into ``<out>.partial/`` and is renamed to ``<out>`` when complete; an
existing store is replaced only with ``overwrite=True``; a non-empty folder that is not a corpus
store is never replaced; an unfinished run's ``.partial`` is continued only with
``resume=True`` (or removed with ``overwrite=True``).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from bitcodec.corpus_format import FORMAT_NAME
from bitcodec.errors import BitcodecError

PARTIAL_FORMAT = FORMAT_NAME + "-partial"


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def store_attrs(path: Path) -> dict[str, Any] | None:
    """The root attributes of the zarr group at ``path``; None when it is not one."""
    try:
        meta = json.loads((path / "zarr.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    attrs = meta.get("attributes", {})
    return attrs if isinstance(attrs, dict) else None


def is_corpus_store(path: Path) -> bool:
    attrs = store_attrs(path)
    return attrs is not None and attrs.get("format") in (FORMAT_NAME, PARTIAL_FORMAT)


def is_complete_store(out: Path) -> bool:
    """A finished store at ``out`` and no unfinished run beside it."""
    attrs = store_attrs(out)
    return (
        attrs is not None and attrs.get("format") == FORMAT_NAME and not partial_path(out).exists()
    )


def check_destination(out: Path, overwrite: bool, resume: bool) -> None:
    """Raise BitcodecError unless a run may write ``out`` (see the module docstring)."""
    partial = partial_path(out)
    if out.exists():
        if not out.is_dir():
            raise BitcodecError(
                f"the output '{out}' is a file, not a directory", "choose another path"
            )
        non_empty = any(out.iterdir())
        if non_empty and not is_corpus_store(out):
            raise BitcodecError(
                f"the output '{out}' is a non-empty directory that is not a corpus store",
                "choose another path (it is never replaced)",
            )
        if non_empty and not overwrite and not resume:
            raise BitcodecError(
                f"the output '{out}' already exists",
                "pass overwrite=True to replace it, resume=True to check it is up to date, "
                "or choose another path",
            )
    if partial.exists() and not resume:
        if not overwrite:
            raise BitcodecError(
                f"an interrupted run left '{partial}'",
                "pass resume=True to continue it or overwrite=True to start over",
            )
        remove_partial(partial)


def remove_partial(partial: Path) -> None:
    if not is_corpus_store(partial):
        raise BitcodecError(
            f"'{partial}' exists and is not an unfinished corpus store", "remove it by hand"
        )
    shutil.rmtree(partial)


def replace_out(partial: Path, out: Path) -> None:
    """Move the finished ``partial`` to ``out``, replacing an old store only once it is moved."""
    old = None
    if out.exists():
        if any(out.iterdir()):
            old = out.with_name(f"{out.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(out, old)
        else:
            out.rmdir()
    os.replace(partial, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
