"""Check that an output can be written before any work is done for it.

A command that reads for minutes and then cannot write its result wastes the minutes and often
says so in an internal error. ``check_writable(path)`` answers at once: it finds the nearest
folder that exists on the way to ``path`` (``path`` itself when it is a folder), refuses a path
that runs through a file, and proves that folder writable by creating and removing a small file
in it (permission bits alone do not tell: root ignores them, a read-only mount does not). The
folders still missing below it are created later by the writer, as usual.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from bitcodec.errors import BitcodecError

_PROBE_PREFIX = ".bitlab-write-check-"


def _nearest_existing(path: Path) -> Path:
    """``path`` or the closest of its parents that exists (``.`` at worst, for relative paths)."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")


def _probe(folder: Path) -> OSError | None:
    try:
        fd, name = tempfile.mkstemp(prefix=_PROBE_PREFIX, dir=folder)
    except OSError as exc:
        return exc
    os.close(fd)
    os.unlink(name)
    return None


def check_writable(
    path: str | os.PathLike[str], what: str = "output", fix: str = "", *, beside: bool = False
) -> None:
    """Raise ``BitcodecError`` unless ``path`` (a file or folder to be written, existing or not)
    can be created or written. ``beside``: the output is made beside ``path`` and renamed to it
    (a corpus store's ``.partial``), so the folder that holds ``path`` must be writable, not
    ``path`` itself. ``what`` names it in the message (a front end passes its flag); ``fix`` replaces the default
    advice. Nothing is left behind."""
    target = Path(path)
    fix = fix or "choose a path in a folder you can write to"
    found = _nearest_existing(target.parent if beside else target)
    if found.is_dir():
        folder = found  # an existing folder is written into (a run directory, a resumed store)
    elif found == target and not beside:
        folder = target.parent  # an existing file, to be replaced beside its siblings
    else:
        raise BitcodecError(
            f"{what} '{target}' cannot be created: '{found}' is a file, not a folder", fix
        )
    error = _probe(folder)
    if error is None:
        return
    reason = {errno.EROFS: "a read-only file system", errno.ENOENT: "it takes no new files"}.get(
        error.errno or 0, error.strerror or str(error)
    )
    raise BitcodecError(
        f"{what} '{target}' cannot be written: no new file can be made in '{folder}' ({reason})",
        fix,
    )
